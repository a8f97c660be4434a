package s3

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/delivery/deliverytest"
)

// testCase is what the shared checks of deliverytest run against: the SeaweedFS of .ci/servers/seaweedfs.sh: every file an object byte for
// byte, twice; a changed file never uploaded; Check; a delivery through
// the engine recorded as sent; a secret the server refuses failing at
// once, and never shown.
func testCase(t *testing.T) deliverytest.Case {
	t.Helper()
	srv := needServer(t)
	bucket := srv.bucket(t)
	t.Setenv("JOINERY_TEST_S3_AK", srv.accessKey)
	t.Setenv("JOINERY_TEST_S3_SK", srv.secretKey)
	t.Setenv("JOINERY_TEST_S3_WRONG_SK", "wrong-"+srv.secretKey)
	set := srv.settings(bucket)
	set.AccessKeyID, set.SecretAccessKey = "${JOINERY_TEST_S3_AK}", "${JOINERY_TEST_S3_SK}"
	wrong := set
	wrong.SecretAccessKey = "${JOINERY_TEST_S3_WRONG_SK}"
	return deliverytest.Case{
		Kind: Kind{},
		Spec: delivery.Spec{Name: "bucket", S3: &set},
		// The objects under the default key, {{.Job}}/{{.File.Rel}}.
		ReadBack: func(t testing.TB, r *delivery.Report) map[string][]byte {
			got := make(map[string][]byte)
			for _, f := range r.Files {
				obj, err := srv.client.GetObject(context.Background(), bucket, r.Job+"/"+f.Rel, minio.GetObjectOptions{})
				if err != nil {
					continue
				}
				data, err := io.ReadAll(obj)
				obj.Close()
				if err == nil {
					got[f.Rel] = data
				}
			}
			return got
		},
		Secrets: []string{srv.secretKey, "wrong-" + srv.secretKey},
		Refused: &delivery.Spec{Name: "bucket", S3: &wrong},
	}
}

// TestConformance runs the shared checks of every destination against
// the test server.
func TestConformance(t *testing.T) { deliverytest.Conformance(t, testCase(t)) }

// TestCrash kills a delivery to the test server between the upload and
// the ledger, then resumes it (see deliverytest.Crash).
func TestCrash(t *testing.T) { deliverytest.Crash(t, testCase(t)) }

func TestMain(m *testing.M) {
	deliverytest.CrashChild(Kind{})
	os.Exit(m.Run())
}
