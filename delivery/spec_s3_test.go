package delivery

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/output"
)

func TestS3Validate(t *testing.T) {
	ok := func(s S3) S3 {
		if s.Bucket == "" {
			s.Bucket = "reports"
		}
		return s
	}
	for _, c := range []struct {
		name string
		s    S3
		want []string // "path: message part"
	}{
		{"minimal", ok(S3{}), nil},
		{"full", ok(S3{
			Endpoint: "https://minio.example.com:9000", Region: "eu-central-1",
			Key:         `reports/{{.Job}}/{{.Logical.Format "2006/01/02"}}/{{.File.Base}}`,
			AccessKeyID: "${AK}", SecretAccessKey: "${SK}", StorageClass: "STANDARD_IA",
			PartSizeMB: 64, Checksum: "none", Retention: &output.Retention{Keep: 7, Days: 30},
		}), nil},
		{"no bucket", S3{}, []string{"bucket: name the bucket"}},
		{"bad bucket", S3{Bucket: "Reports_2026"}, []string{"bucket: a bucket name"}},
		{"endpoint scheme", ok(S3{Endpoint: "s3.example.com"}), []string{"endpoint: want an http:// or https://"}},
		{"endpoint path", ok(S3{Endpoint: "https://s3.example.com/reports"}), []string{"endpoint: want only a scheme"}},
		{"endpoint user", ok(S3{Endpoint: "https://ak:sk@s3.example.com"}), []string{"endpoint: credentials go in"}},
		{"key syntax", ok(S3{Key: "{{.Job"}), []string{"key: template"}},
		{"key field", ok(S3{Key: "{{.Nope}}/{{.File.Base}}"}), []string{"key: key template"}},
		{"key file field", ok(S3{Key: "{{.File.Name}}"}), []string{"key: key template"}},
		{"key same", ok(S3{Key: "{{.Job}}/report"}), []string{"key: the key must tell the files of a run apart"}},
		{"key slash", ok(S3{Key: "/{{.File.Base}}"}), []string{"key: key template: the key \"/job-a.csv\" starts with /"}},
		{"key dotdot", ok(S3{Key: "../{{.File.Base}}"}), []string{"key: key template"}},
		{"key format only", ok(S3{Key: "{{.File.Format}}.out"}), []string{"key: the key must tell"}},
		{"half credentials", ok(S3{AccessKeyID: "${AK}"}), []string{"secret_access_key: access_key_id is set"}},
		{"other half", ok(S3{SecretAccessKey: "${SK}"}), []string{"access_key_id: secret_access_key is set"}},
		{"token alone", ok(S3{SessionToken: "${T}"}), []string{"session_token: a session token goes with"}},
		{"storage class", ok(S3{StorageClass: "cheap"}), []string{"storage_class: want a storage class"}},
		{"checksum", ok(S3{Checksum: "md5"}), []string{"checksum: want sha256 or none"}},
		{"part size", ok(S3{PartSizeMB: 1}), []string{"part_size_mb: want 5 to 5120"}},
		{"retention", ok(S3{Retention: &output.Retention{Keep: -1, Days: -2}}), []string{"retention.keep: want", "retention.days: want"}},
		{"retention key", ok(S3{Key: "{{.Job}}/{{.File.Output}}-{{.File.Format}}", Retention: &output.Retention{Keep: 2}}), []string{"key: retention finds runs by their manifests"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			errs := c.s.validate()
			var got []string
			for _, err := range errs {
				var fe *config.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("%v is not a config problem", err)
				}
				got = append(got, fe.Path+": "+fe.Msg)
			}
			if len(got) != len(c.want) {
				t.Fatalf("problems %q, want %q", got, c.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], c.want[i]) {
					t.Errorf("problem %q, want it to start with %q", got[i], c.want[i])
				}
			}
		})
	}
}

// A secret's value is never quoted in a problem.
func TestS3ValidateQuotesNoSecret(t *testing.T) {
	s := S3{Bucket: "reports", AccessKeyID: "AKIDSECRETVALUE"}
	for _, err := range s.validate() {
		if strings.Contains(err.Error(), "AKIDSECRETVALUE") {
			t.Errorf("problem quotes the access key: %v", err)
		}
	}
}

func TestS3Key(t *testing.T) {
	tmpl, err := ParseS3Key(`reports/{{.Job}}/{{.Logical.Format "2006/01/02"}}/{{.File.Base}}`)
	if err != nil {
		t.Fatal(err)
	}
	r := &Report{Job: "posts", Logical: time.Date(2026, 11, 4, 6, 0, 0, 0, time.UTC)}
	f := File{File: output.File{Path: "/out/posts/posts-20261104.csv", Format: "csv", Size: 3, SHA256: "ab"}, Rel: "posts/posts-20261104.csv", Output: "csv"}
	key, err := MakeS3Key(tmpl, S3KeyData{Report: r, File: S3KeyFileOf(f)})
	if err != nil || key != "reports/posts/2026/11/04/posts-20261104.csv" {
		t.Errorf("key = %q, %v", key, err)
	}
	def, _ := ParseS3Key("")
	key, err = MakeS3Key(def, S3KeyData{Report: r, File: S3KeyFileOf(f)})
	if err != nil || key != "posts/posts/posts-20261104.csv" {
		t.Errorf("default key = %q, %v", key, err)
	}
	for text, want := range map[string]string{
		"":                             "",
		"reports/{{.Job}}/":            "reports/",
		"fixed/name":                   "fixed/name",
		"{{.Job}}/x":                   "",
		`a/{{.Logical.Format "2006"}}`: "a/",
	} {
		if got := S3KeyPrefix(text); got != want {
			t.Errorf("S3KeyPrefix(%q) = %q, want %q", text, got, want)
		}
	}
}
