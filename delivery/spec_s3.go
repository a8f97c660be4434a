package delivery

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/output"
)

// S3 are the settings of an s3 destination: an S3-compatible object store
// (AWS S3, MinIO, SeaweedFS, Ceph, R2, ...) that takes each file the
// destination carries as an object, and the run's manifest last, as the
// commit marker (docs/DELIVERY.md).
//
//	s3:
//	  endpoint: https://minio.example.com:9000   # empty: AWS S3
//	  region: eu-central-1
//	  bucket: reports
//	  key: 'posts/{{.Logical.Format "2006/01/02"}}/{{.File.Base}}'
//	  path_style: true
//	  access_key_id: ${S3_ACCESS_KEY_ID}         # both or neither: without,
//	  secret_access_key: ${S3_SECRET_ACCESS_KEY} # the AWS chain
//	  storage_class: STANDARD_IA
//	  retention: {keep: 30}
type S3 struct {
	// Endpoint is the URL of the store, http:// or https:// with a host
	// and an optional port and nothing else; empty means AWS S3.
	Endpoint string `yaml:"endpoint,omitempty"`
	// Region is the store's region. Empty means us-east-1 with an
	// Endpoint, and the bucket's own region (asked once) on AWS.
	Region string `yaml:"region,omitempty"`
	Bucket string `yaml:"bucket"`
	// Key is the text/template of each object's key, given S3KeyData;
	// empty means DefaultS3Key.
	Key string `yaml:"key,omitempty"`
	// PathStyle addresses the bucket in the path (host/bucket/key) instead
	// of the host name (bucket.host/key): most stores other than AWS want
	// it. Unset: virtual-host style for AWS (and Google, Aliyun), path
	// style for every other endpoint.
	PathStyle *bool `yaml:"path_style,omitempty"`
	// AccessKeyID and SecretAccessKey are the static credentials, both or
	// neither, usually ${VAR} references; SessionToken goes with
	// temporary ones. Without them the standard AWS chain is used: the
	// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
	// AWS_SESSION_TOKEN), the shared credentials file (~/.aws/credentials,
	// AWS_PROFILE), then the IAM role of the machine, task or pod.
	AccessKeyID     string `yaml:"access_key_id,omitempty,secret"`
	SecretAccessKey string `yaml:"secret_access_key,omitempty,secret"`
	SessionToken    string `yaml:"session_token,omitempty,secret"`
	// StorageClass is the objects' storage class (STANDARD_IA, ...);
	// empty means the bucket's default.
	StorageClass string `yaml:"storage_class,omitempty"`
	// Checksum is the checksum each upload request carries for the store
	// to verify, besides the signature: sha256 (the default: a SHA-256
	// per request, sent as a trailer, which the store checks and keeps
	// as the object's x-amz-checksum-sha256) or none, for stores that
	// refuse trailing checksums.
	Checksum string `yaml:"checksum,omitempty"`
	// PartSizeMB is the size of each part of a multipart upload in MiB
	// (5 to 5120; default 16). Files up to one part go in one request.
	PartSizeMB int `yaml:"part_size_mb,omitempty"`
	// Retention deletes older runs' objects from the bucket, run by run
	// through the manifests this destination uploaded, as output_dir's
	// retention does locally: the newest Keep logical times and those at
	// most Days days old are kept, and so are the newest run and the run
	// just delivered. Nothing that no manifest of this job and
	// destination lists is ever deleted.
	Retention *output.Retention `yaml:"retention,omitempty"`
}

// DefaultS3Key is the key template of an s3 destination without one:
// the job's name, then the file's path below output_dir.
const DefaultS3Key = "{{.Job}}/{{.File.Rel}}"

// S3KeyData is what the key template of an s3 destination is given, once
// for each file and once for the manifest: the run (every field of
// Report, such as .Job, .RunID, .Logical, .WindowStart, .Params) and the
// file being named (.File.Base, .File.Rel, ...).
type S3KeyData struct {
	*Report
	File S3KeyFile
}

// S3KeyFile is the file an object key is made for.
type S3KeyFile struct {
	Base   string // its name, such as "posts-20261104.csv"
	Rel    string // its path below output_dir, with / separators
	Dir    string // Rel's folder, "." when none
	Output string // the name of the output that wrote it; "" for the manifest
	Format string // csv, xlsx, jsonl, tsv; "manifest" for the manifest
	Size   int64
	SHA256 string // hex
}

// ParseS3Key parses an s3 destination's key template (empty: DefaultS3Key).
// A key names a missing field as an error when it is made.
func ParseS3Key(text string) (*template.Template, error) {
	if text == "" {
		text = DefaultS3Key
	}
	return template.New("key").Option("missingkey=error").Parse(text)
}

// S3KeyPrefix is the text of an s3 key template before its first action:
// the prefix every key made from it starts with.
func S3KeyPrefix(text string) string {
	if text == "" {
		text = DefaultS3Key
	}
	if i := strings.Index(text, "{{"); i >= 0 {
		return text[:i]
	}
	return text
}

// MakeS3Key makes the key of a file with the template t, and checks it:
// not empty, at most 1024 bytes, no leading "/", no empty, "." or ".."
// segments.
func MakeS3Key(t *template.Template, data S3KeyData) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("key template: %w", err)
	}
	key := b.String()
	switch {
	case key == "":
		return "", fmt.Errorf("key template: the key of %s is empty", data.File.Base)
	case len(key) > 1024:
		return "", fmt.Errorf("key template: the key of %s is longer than 1024 bytes", data.File.Base)
	case strings.HasPrefix(key, "/"):
		return "", fmt.Errorf("key template: the key %q starts with /", key)
	case strings.ContainsAny(key, "\x00\r\n"):
		return "", fmt.Errorf("key template: the key %q holds a control character", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("key template: the key %q has an empty, . or .. segment", key)
		}
	}
	return key, nil
}

// S3KeyFileOf is the S3KeyFile of a report file.
func S3KeyFileOf(f File) S3KeyFile {
	return S3KeyFile{
		Base: path.Base(f.Rel), Rel: f.Rel, Dir: path.Dir(f.Rel),
		Output: f.Output, Format: f.Format, Size: f.Size, SHA256: f.SHA256,
	}
}

// storageClass is the form of a storage class: AWS's are upper case words
// joined by _, and other stores follow.
var storageClass = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

func (s *S3) validate() []error {
	var errs []error
	if s.Endpoint != "" {
		if err := checkS3Endpoint(s.Endpoint); err != nil {
			errs = append(errs, config.Problem("endpoint", s.Endpoint, err.Error()))
		}
	}
	if s.Bucket == "" {
		errs = append(errs, config.Required("bucket", "name the bucket"))
	} else if !validBucket(s.Bucket) {
		errs = append(errs, config.Problem("bucket", s.Bucket, "a bucket name is 3 to 63 lower case letters, digits, dots and hyphens, starting and ending with a letter or digit"))
	}
	if s.Region != "" && strings.ContainsAny(s.Region, " /\\:") {
		errs = append(errs, config.Problem("region", s.Region, "want a region name such as eu-central-1"))
	}
	errs = append(errs, s.validateKey()...)
	switch {
	case s.AccessKeyID != "" && s.SecretAccessKey == "":
		errs = append(errs, config.Required("secret_access_key", "access_key_id is set: set secret_access_key too, or neither to use the AWS credential chain"))
	case s.AccessKeyID == "" && s.SecretAccessKey != "":
		errs = append(errs, config.Required("access_key_id", "secret_access_key is set: set access_key_id too, or neither to use the AWS credential chain"))
	case s.AccessKeyID == "" && s.SessionToken != "":
		errs = append(errs, config.Problem("session_token", nil, "a session token goes with access_key_id and secret_access_key"))
	}
	if s.StorageClass != "" && !storageClass.MatchString(s.StorageClass) {
		errs = append(errs, config.Problem("storage_class", s.StorageClass, "want a storage class such as STANDARD, STANDARD_IA or GLACIER_IR"))
	}
	if s.Checksum != "" && s.Checksum != "sha256" && s.Checksum != "none" {
		errs = append(errs, config.Problem("checksum", s.Checksum, "want sha256 or none"))
	}
	if s.PartSizeMB != 0 && (s.PartSizeMB < 5 || s.PartSizeMB > 5120) {
		errs = append(errs, config.Problem("part_size_mb", s.PartSizeMB, "want 5 to 5120 (MiB): S3 takes parts of at least 5 MiB"))
	}
	if r := s.Retention; r != nil {
		if r.Keep < 0 {
			errs = append(errs, config.Problem("retention.keep", r.Keep, "want a number of runs, at least 1"))
		}
		if r.Days < 0 {
			errs = append(errs, config.Problem("retention.days", r.Days, "want a number of days, at least 1"))
		}
	}
	return errs
}

// validateKey parses the key template and makes the keys of a sample run:
// a field the data lacks, two files with one key, or a manifest key that
// retention cannot find are problems now rather than at delivery.
func (s *S3) validateKey() []error {
	t, err := ParseS3Key(s.Key)
	if err != nil {
		return []error{config.Problem("key", s.Key, err.Error())}
	}
	r := &Report{
		Job: "job", RunID: "20261104T060000Z-abcdef", Logical: time.Date(2026, 11, 4, 6, 0, 0, 0, time.UTC),
		Params: []output.Param{{Name: "p", Type: "string", Value: "v"}},
	}
	sample := []S3KeyFile{
		{Base: "job-a.csv", Rel: "job/job-a.csv", Dir: "job", Output: "a", Format: "csv"},
		{Base: "job-b.xlsx", Rel: "job/job-b.xlsx", Dir: "job", Output: "b", Format: "xlsx"},
		{Base: "job-c.csv", Rel: "job/job-c.csv", Dir: "job", Output: "c", Format: "csv"},
		{Base: "job-20261104T060000Z.manifest.json", Rel: "job/job-20261104T060000Z.manifest.json", Dir: "job", Format: "manifest"},
	}
	keys := make([]string, len(sample))
	for i, f := range sample {
		if keys[i], err = MakeS3Key(t, S3KeyData{Report: r, File: f}); err != nil {
			return []error{config.Problem("key", s.Key, err.Error())}
		}
	}
	seen := make(map[string]bool)
	for _, k := range keys {
		if seen[k] {
			return []error{config.Problem("key", s.Key, "the key must tell the files of a run apart: use {{.File.Base}} or {{.File.Rel}} in it")}
		}
		seen[k] = true
	}
	if s.Retention != nil && (s.Retention.Keep > 0 || s.Retention.Days > 0) && !strings.HasSuffix(keys[len(keys)-1], output.ManifestSuffix) {
		return []error{config.Problem("key", s.Key, "retention finds runs by their manifests, whose keys must end with the manifest's name: end the key with {{.File.Base}} or {{.File.Rel}}")}
	}
	return nil
}

// checkS3Endpoint checks an endpoint URL: http or https, a host, and no
// path, query or credentials.
func checkS3Endpoint(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("want a URL such as https://s3.example.com:9000")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("want an http:// or https:// URL such as https://s3.example.com:9000")
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("the URL names no host")
	case u.User != nil:
		return fmt.Errorf("credentials go in access_key_id and secret_access_key, not in the URL")
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("want only a scheme, a host and a port: the bucket goes in bucket, the folder in key")
	}
	return nil
}

// bucketName is the form of a bucket name (AWS's rules, which other
// stores follow).
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func validBucket(b string) bool {
	return bucketName.MatchString(b) && !strings.Contains(b, "..")
}
