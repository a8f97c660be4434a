package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/internal/testnet"
	"github.com/joinery/joinery/output"
)

// The tests below the first few run against a real S3 server: .ci/run
// starts SeaweedFS (.ci/servers/seaweedfs.sh) and sets these variables.
// Without them the tests skip, unless JOINERY_REQUIRE_S3=1 says the
// server must be there.
type server struct {
	endpoint, accessKey, secretKey string
	client                         *minio.Client
}

func needServer(t *testing.T) *server {
	t.Helper()
	s := &server{
		endpoint:  os.Getenv("JOINERY_TEST_S3_ENDPOINT"),
		accessKey: os.Getenv("JOINERY_TEST_S3_ACCESS_KEY"),
		secretKey: os.Getenv("JOINERY_TEST_S3_SECRET_KEY"),
	}
	if s.endpoint == "" {
		if os.Getenv("JOINERY_REQUIRE_S3") == "1" {
			t.Fatal("JOINERY_REQUIRE_S3=1 but JOINERY_TEST_S3_ENDPOINT is not set")
		}
		t.Skip("no S3 server: set JOINERY_TEST_S3_ENDPOINT, _ACCESS_KEY and _SECRET_KEY (bash .ci/run does)")
	}
	host := strings.TrimPrefix(strings.TrimPrefix(s.endpoint, "http://"), "https://")
	var err error
	s.client, err = minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(s.accessKey, s.secretKey, ""),
		Secure:       strings.HasPrefix(s.endpoint, "https://"),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bucket makes a bucket of the test's own and removes it, with what it
// holds, when the test ends.
func (s *server) bucket(t *testing.T) string {
	t.Helper()
	var rnd [5]byte
	_, _ = rand.Read(rnd[:])
	name := "jt-" + hex.EncodeToString(rnd[:])
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.client.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: "us-east-1"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("make bucket %s: %v", name, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Cleanup(func() {
		for o := range s.client.ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true}) {
			if o.Err == nil {
				_ = s.client.RemoveObject(ctx, name, o.Key, minio.RemoveObjectOptions{})
			}
		}
		_ = s.client.RemoveBucket(ctx, name)
	})
	return name
}

// settings are the s3 settings of the test server's bucket.
func (s *server) settings(bucket string) delivery.S3 {
	yes := true
	return delivery.S3{
		Endpoint: s.endpoint, Bucket: bucket, PathStyle: &yes,
		AccessKeyID: s.accessKey, SecretAccessKey: s.secretKey,
	}
}

// keys lists the bucket's keys, sorted.
func (s *server) keys(t *testing.T, bucket string) []string {
	t.Helper()
	var keys []string
	for o := range s.client.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	slices.Sort(keys)
	return keys
}

// get reads an object back.
func (s *server) get(t *testing.T, bucket, key string) ([]byte, minio.ObjectInfo) {
	t.Helper()
	obj, err := s.client.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	st, err := obj.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return data, st
}

// report writes a run of job into a fresh output_dir: the files (name ->
// content, under job/) and their manifest, as a committed run leaves them.
func report(t *testing.T, job string, logical time.Time, files map[string][]byte) *delivery.Report {
	t.Helper()
	dir := t.TempDir()
	return reportIn(t, dir, job, logical, files)
}

func reportIn(t *testing.T, dir, job string, logical time.Time, files map[string][]byte) *delivery.Report {
	t.Helper()
	r := &delivery.Report{Job: job, RunID: logical.UTC().Format("20060102T150405Z") + "-abcdef", Logical: logical, Dir: dir}
	m := output.Manifest{Job: job, RunID: r.RunID, Logical: logical, Started: logical.Add(time.Minute), Version: "test", Datasets: []output.ManifestSet{}}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	if err := os.MkdirAll(filepath.Join(dir, job), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		rel := job + "/" + name
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(files[name])
		format := strings.TrimSuffix(filepath.Ext(strings.TrimSuffix(name, ".gz")), "")[1:]
		f := output.File{Path: p, Format: format, Size: int64(len(files[name])), SHA256: hex.EncodeToString(sum[:])}
		r.Files = append(r.Files, delivery.File{File: f, Rel: rel, Output: format})
		m.Files = append(m.Files, output.ManifestFile{Path: rel, Format: format, Size: f.Size, SHA256: f.SHA256})
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	r.Manifest = filepath.Join(dir, job, output.ManifestName(job, logical, nil))
	if err := os.WriteFile(r.Manifest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// newDest makes a destination and records the keys in upload order.
func newDest(t *testing.T, name string, s delivery.S3) (*destination, *[]string) {
	t.Helper()
	d, err := newDestination(name, s, delivery.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	d.uploaded = func(key string) {
		mu.Lock()
		order = append(order, key)
		mu.Unlock()
	}
	return d, &order
}

var logical = time.Date(2026, 11, 4, 6, 0, 0, 0, time.UTC)

// --- without a server ---------------------------------------------------

func TestContentType(t *testing.T) {
	for _, c := range []struct{ format, name, want string }{
		{"csv", "a.csv", "text/csv; charset=utf-8"},
		{"csv", "a.csv.gz", "application/gzip"},
		{"tsv", "a.tsv", "text/tab-separated-values; charset=utf-8"},
		{"jsonl", "a.jsonl", "application/jsonl"},
		{"xlsx", "a.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"parquet", "a.parquet", "application/octet-stream"},
	} {
		if got := ContentType(c.format, c.name); got != c.want {
			t.Errorf("ContentType(%q, %q) = %q, want %q", c.format, c.name, got, c.want)
		}
	}
}

// A file that changed since the run is not uploaded, and no attempt
// will cure that: the check comes before any request.
func TestChangedFileIsPermanent(t *testing.T) {
	r := report(t, "posts", logical, map[string][]byte{"posts.csv": []byte("a,b\n1,2\n")})
	if err := os.WriteFile(r.Files[0].Path, []byte("a,b\n1,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	yes := true
	d, order := newDest(t, "s3", delivery.S3{Endpoint: "http://127.0.0.1:1", Bucket: "reports", PathStyle: &yes, AccessKeyID: "AK", SecretAccessKey: "SK"})
	_, err := d.Deliver(context.Background(), r)
	if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "changed or replaced") {
		t.Fatalf("Deliver = %v, want a permanent error about a changed file", err)
	}
	if len(*order) != 0 {
		t.Errorf("uploaded %v", *order)
	}
}

func TestKeysMustDiffer(t *testing.T) {
	r := report(t, "posts", logical, map[string][]byte{"a.csv": []byte("a\n"), "b.csv": []byte("b\n")})
	yes := true
	d, _ := newDest(t, "s3", delivery.S3{Endpoint: "http://127.0.0.1:1", Bucket: "reports", PathStyle: &yes, Key: "x/{{.File.Format}}"})
	_, err := d.Deliver(context.Background(), r)
	if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "both make the key") {
		t.Fatalf("Deliver = %v, want a permanent error about one key for two files", err)
	}
}

// Credentials that are ${VAR} references are read from the environment.
func TestCredentialsFromEnv(t *testing.T) {
	t.Setenv("JOINERY_T_AK", "AKIDEXAMPLE")
	t.Setenv("JOINERY_T_SK", "s3cr3t-value")
	d, err := newDestination("s3", delivery.S3{Endpoint: "http://127.0.0.1:1", Bucket: "reports", AccessKeyID: "${JOINERY_T_AK}", SecretAccessKey: "${JOINERY_T_SK}"}, delivery.Env{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := d.client.GetCreds()
	if err != nil {
		t.Fatal(err)
	}
	if v.AccessKeyID != "AKIDEXAMPLE" || v.SecretAccessKey != "s3cr3t-value" {
		t.Errorf("credentials = %q, %q", v.AccessKeyID, v.SecretAccessKey)
	}
	_, err = newDestination("s3", delivery.S3{Bucket: "reports", AccessKeyID: "${JOINERY_T_UNSET}", SecretAccessKey: "x"}, delivery.Env{})
	if err == nil || !strings.Contains(err.Error(), "JOINERY_T_UNSET") {
		t.Errorf("unset variable: %v", err)
	}
}

// Without credentials in the settings, the AWS chain is used: the
// environment first.
func TestCredentialsChain(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDCHAIN")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "chain-secret")
	d, err := newDestination("s3", delivery.S3{Bucket: "reports"}, delivery.Env{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := d.client.GetCreds()
	if err != nil {
		t.Fatal(err)
	}
	if v.AccessKeyID != "AKIDCHAIN" || v.SecretAccessKey != "chain-secret" {
		t.Errorf("credentials = %q, %q", v.AccessKeyID, v.SecretAccessKey)
	}
}

// --- against the server -------------------------------------------------

// Every file is read back byte for byte, with its content type and
// SHA-256; the manifest goes last and lists the keys; a second delivery
// puts the same keys and nothing else.
func TestDeliverReadBack(t *testing.T) {
	srv := needServer(t)
	bucket := srv.bucket(t)
	files := map[string][]byte{
		"posts-20261104.csv":      []byte("\ufeffid,title\n1,\"Hello, world\"\n2,Grüße\n"),
		"posts-20261104.xlsx":     randomBytes(300 << 10),
		"posts-20261104.jsonl.gz": randomBytes(7 << 20), // more than one 5 MiB part
		"empty.tsv":               {},
	}
	r := report(t, "posts", logical, files)
	s := srv.settings(bucket)
	s.Key = `reports/{{.Job}}/{{.Logical.Format "2006/01/02"}}/{{.File.Base}}`
	s.PartSizeMB = 5
	d, order := newDest(t, "bucket", s)
	rec, err := d.Deliver(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "reports/posts/2026/11/04/"
	manifestKey := prefix + "posts-20261104T060000Z.manifest.json"
	want := []string{manifestKey}
	for name := range files {
		want = append(want, prefix+name)
	}
	slices.Sort(want)
	if got := srv.keys(t, bucket); !slices.Equal(got, want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
	if n := len(*order); n != len(files)+1 || (*order)[n-1] != manifestKey {
		t.Errorf("upload order = %v, want the manifest last", *order)
	}
	for _, f := range r.Files {
		key := prefix + filepath.Base(f.Path)
		data, st := srv.get(t, bucket, key)
		if !bytes.Equal(data, files[filepath.Base(f.Path)]) {
			t.Errorf("%s: %d bytes read back differ from the %d of the file", key, len(data), f.Size)
		}
		if st.ContentType != ContentType(f.Format, f.Path) {
			t.Errorf("%s: content type %q", key, st.ContentType)
		}
		if got := metaSHA256(st); got != f.SHA256 {
			t.Errorf("%s: x-amz-meta-sha256 %q, want %q", key, got, f.SHA256)
		}
		// The store verified and kept the SHA-256 checksum: of the whole
		// object for one PUT, of the parts' checksums for a multipart one.
		ck, err := srv.client.StatObject(context.Background(), bucket, key, minio.StatObjectOptions{Checksum: true})
		if err != nil {
			t.Fatal(err)
		}
		sum, _ := hex.DecodeString(f.SHA256)
		if whole := base64.StdEncoding.EncodeToString(sum); f.Size <= 5<<20 && ck.ChecksumSHA256 != whole {
			t.Errorf("%s: x-amz-checksum-sha256 %q, want %q", key, ck.ChecksumSHA256, whole)
		} else if f.Size > 5<<20 && !strings.HasSuffix(ck.ChecksumSHA256, "-2") {
			t.Errorf("%s: x-amz-checksum-sha256 %q, want a composite of 2 parts", key, ck.ChecksumSHA256)
		}
	}
	// The manifest in the bucket is the run's, with the objects' keys.
	data, st := srv.get(t, bucket, manifestKey)
	var m s3Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.Job != "posts" || !m.Logical.Equal(logical) || len(m.Files) != len(files) || m.S3 == nil || len(m.S3.Objects) != len(files) {
		t.Fatalf("manifest in the bucket: %s", data)
	}
	for _, o := range m.S3.Objects {
		if !strings.HasPrefix(o.Key, prefix) || o.SHA256 == "" || o.Path == "" {
			t.Errorf("manifest object %+v", o)
		}
	}
	if rec.ID != st.ETag || len(rec.Items) != len(files)+1 {
		t.Errorf("receipt %+v, manifest ETag %s", rec, st.ETag)
	}
	// Once more: the same keys, the same content.
	rec2, err := d.Deliver(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.keys(t, bucket); !slices.Equal(got, want) {
		t.Errorf("after a second delivery keys = %v, want %v", got, want)
	}
	data2, _ := srv.get(t, bucket, manifestKey)
	if !bytes.Equal(data, data2) {
		t.Errorf("the manifest differs after a second delivery")
	}
	if !slices.Equal(rec.Items, rec2.Items) {
		t.Errorf("receipts differ: %v and %v", rec.Items, rec2.Items)
	}
}

// A large file is streamed from disk: the heap stays far below the
// file's size while it is uploaded.
func TestDeliverLargeFileBoundedMemory(t *testing.T) {
	srv := needServer(t)
	if testing.Short() {
		t.Skip("uploads 200 MB")
	}
	bucket := srv.bucket(t)
	const size = 200 << 20
	dir := t.TempDir()
	p := filepath.Join(dir, "big", "big.csv")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := writeRandom(t, p, size)
	r := &delivery.Report{Job: "big", RunID: "r", Logical: logical, Dir: dir, Files: []delivery.File{{
		File: output.File{Path: p, Format: "csv", Size: size, SHA256: sum}, Rel: "big/big.csv", Output: "csv",
	}}}
	d, _ := newDest(t, "bucket", srv.settings(bucket))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := peakHeap(func() {
		if _, err := d.Deliver(context.Background(), r); err != nil {
			t.Error(err)
		}
	})
	t.Logf("uploading %d MB: peak HeapInuse %.1f MB (%.1f MB before)", size>>20, float64(peak)/(1<<20), float64(before.HeapInuse)/(1<<20))
	if peak > 64<<20 {
		t.Errorf("peak HeapInuse %d MB, want under 64 MB", peak>>20)
	}
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				t.Logf("the test process's peak RSS: %s", strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")))
			}
		}
	}
	// Read back and compare with the file, a chunk at a time.
	obj, err := srv.client.GetObject(context.Background(), bucket, "big/big/big.csv", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	local, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	a, b := make([]byte, 1<<20), make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(a)) {
		if _, err := io.ReadFull(obj, a); err != nil {
			t.Fatalf("read back at %d: %v", off, err)
		}
		if _, err := io.ReadFull(local, b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("the object differs from the file in the MB at %d", off)
		}
	}
	if n, _ := obj.Read(a); n != 0 {
		t.Errorf("the object is longer than the file")
	}
}

// peakHeap runs f and returns the highest HeapInuse seen while it ran,
// sampled every 5 ms.
func peakHeap(f func()) uint64 {
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	return peak
}

// A wrong secret is refused for good, with a clear error that never holds
// the secret (nor the access key id).
func TestWrongSecretIsPermanent(t *testing.T) {
	srv := needServer(t)
	bucket := srv.bucket(t)
	s := srv.settings(bucket)
	s.SecretAccessKey = "wrong-secret-do-not-print-9f3b"
	d, order := newDest(t, "bucket", s)
	r := report(t, "posts", logical, map[string][]byte{"posts.csv": []byte("a\n")})
	_, err := d.Deliver(context.Background(), r)
	if !delivery.IsPermanent(err) {
		t.Fatalf("Deliver = %v, want a permanent error", err)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.Contains(msg, s.SecretAccessKey) || strings.Contains(msg, s.AccessKeyID) {
		t.Errorf("the error holds a credential: %s", msg)
	}
	if !strings.Contains(msg, "SignatureDoesNotMatch") || !strings.Contains(msg, "secret_access_key") {
		t.Errorf("the error does not say what is wrong: %s", msg)
	}
	if len(*order) != 0 {
		t.Errorf("uploaded %v", *order)
	}
	// And an unknown access key.
	s.AccessKeyID, s.SecretAccessKey = "AKIDUNKNOWN0000", srv.secretKey
	d, _ = newDest(t, "bucket", s)
	_, err = d.Deliver(context.Background(), r)
	if !delivery.IsPermanent(err) || strings.Contains(err.Error(), srv.secretKey) || strings.Contains(err.Error(), "AKIDUNKNOWN0000") {
		t.Errorf("unknown access key: %v", err)
	}
	t.Logf("error: %v", err)
}

func TestMissingBucketIsPermanent(t *testing.T) {
	srv := needServer(t)
	missing := "jt-missing-" + hex.EncodeToString(randomBytes(4))
	d, _ := newDest(t, "bucket", srv.settings(missing))
	r := report(t, "posts", logical, map[string][]byte{"posts.csv": []byte("a\n")})
	_, err := d.Deliver(context.Background(), r)
	if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Fatalf("Deliver = %v, want a permanent NoSuchBucket", err)
	}
	t.Logf("error: %v", err)
	err = d.Check(context.Background())
	if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Check = %v, want a permanent error", err)
	}
	if ok, err := srv.client.BucketExists(context.Background(), missing); ok || err != nil {
		t.Errorf("the bucket %s exists after the delivery (%v): it was made", missing, err)
	}
}

// With the server out of reach the error is one to retry; when it is back
// the same destination delivers.
func TestServerDownThenUp(t *testing.T) {
	srv := needServer(t)
	bucket := srv.bucket(t)
	target := strings.TrimPrefix(srv.endpoint, "http://")
	px := testnet.NewRelay(t, target)
	px.Start(t)
	s := srv.settings(bucket)
	s.Endpoint = "http://" + px.Addr
	d, _ := newDest(t, "bucket", s)
	r := report(t, "posts", logical, map[string][]byte{"posts.csv": []byte("a,b\n1,2\n")})

	px.Cut()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err := d.Deliver(ctx, r)
	if err == nil || delivery.IsPermanent(err) {
		t.Fatalf("Deliver with the server down = %v, want an error to retry", err)
	}
	t.Logf("server down: %v after %v", err, time.Since(start).Round(time.Millisecond))
	if got := srv.keys(t, bucket); len(got) != 0 {
		t.Errorf("keys = %v", got)
	}
	px.Start(t)
	if _, err := d.Deliver(context.Background(), r); err != nil {
		t.Fatalf("Deliver with the server back = %v", err)
	}
	if got := srv.keys(t, bucket); len(got) != 2 {
		t.Errorf("keys = %v, want the file and the manifest", got)
	}
}

// The server goes away in the middle of a multipart upload: an error to
// retry, nothing the manifest would commit; back, the next attempt puts
// the whole file.
func TestServerGoneMidUpload(t *testing.T) {
	srv := needServer(t)
	bucket := srv.bucket(t)
	px := testnet.NewRelay(t, strings.TrimPrefix(srv.endpoint, "http://"))
	px.Start(t)
	s := srv.settings(bucket)
	s.Endpoint = "http://" + px.Addr
	s.PartSizeMB = 5
	d, order := newDest(t, "bucket", s)
	data := randomBytes(23 << 20)
	r := report(t, "posts", logical, map[string][]byte{"posts.csv": data})

	px.CutAfter(12 << 20) // in the third part
	_, err := d.Deliver(context.Background(), r)
	if err == nil || delivery.IsPermanent(err) {
		t.Fatalf("Deliver with the server gone = %v, want an error to retry", err)
	}
	t.Logf("server gone mid-upload: %v", err)
	if len(*order) != 0 {
		t.Errorf("uploads completed: %v", *order)
	}
	px.Start(t)
	if _, err := d.Deliver(context.Background(), r); err != nil {
		t.Fatalf("Deliver with the server back = %v", err)
	}
	got, _ := srv.get(t, bucket, "posts/posts/posts.csv")
	if !bytes.Equal(got, data) {
		t.Errorf("the object read back differs from the file")
	}
	if keys := srv.keys(t, bucket); len(keys) != 2 {
		t.Errorf("keys = %v, want the file and the manifest", keys)
	}
}

// Retention deletes the objects of older runs by their manifests, and
// nothing else: not objects no manifest lists, not another destination's
// runs, not a key that a kept run lists too.
func TestRetention(t *testing.T) {
	srv := needServer(t)
	bucket := srv.bucket(t)
	s := srv.settings(bucket)
	s.Key = `reports/{{.Job}}/{{.Logical.Format "2006-01-02"}}/{{.File.Base}}`
	other := s
	other.Key = `reports/{{.Job}}/other/{{.Logical.Format "2006-01-02"}}/{{.File.Base}}`
	ctx := context.Background()
	// Someone else's objects below the same prefix.
	for _, key := range []string{"reports/posts/notes.txt", "reports/posts/2026-10-01/posts.csv", "reports/posts/x.manifest.json"} {
		if _, err := srv.client.PutObject(ctx, bucket, key, strings.NewReader("{}"), 2, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Another destination of the job into the same bucket.
	od, _ := newDest(t, "other", other)
	if _, err := od.Deliver(ctx, report(t, "posts", logical.AddDate(0, 0, -10), map[string][]byte{"posts.csv": []byte("old other\n")})); err != nil {
		t.Fatal(err)
	}
	s.Retention = &output.Retention{Keep: 2}
	d, _ := newDest(t, "bucket", s)
	for i := 0; i < 4; i++ {
		day := logical.AddDate(0, 0, -3+i)
		r := report(t, "posts", day, map[string][]byte{
			"posts.csv":  fmt.Appendf(nil, "day %d\n", i),
			"posts.xlsx": fmt.Appendf(nil, "xlsx %d\n", i),
		})
		if _, err := d.Deliver(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"reports/posts/2026-10-01/posts.csv",
		"reports/posts/2026-11-03/posts-20261103T060000Z.manifest.json",
		"reports/posts/2026-11-03/posts.csv",
		"reports/posts/2026-11-03/posts.xlsx",
		"reports/posts/2026-11-04/posts-20261104T060000Z.manifest.json",
		"reports/posts/2026-11-04/posts.csv",
		"reports/posts/2026-11-04/posts.xlsx",
		"reports/posts/notes.txt",
		"reports/posts/other/2026-10-25/posts-20261025T060000Z.manifest.json",
		"reports/posts/other/2026-10-25/posts.csv",
		"reports/posts/x.manifest.json",
	}
	if got := srv.keys(t, bucket); !slices.Equal(got, want) {
		t.Errorf("keys after retention:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Retention never deletes a key a kept run lists too (a name every run
// writes), nor an object written again since its run (its SHA-256 is not
// the manifest's).
func TestRetentionSharedAndRewritten(t *testing.T) {
	srv := needServer(t)
	bucket := srv.bucket(t)
	s := srv.settings(bucket)
	s.Key = "r/{{.Job}}/{{.File.Base}}"
	s.Retention = &output.Retention{Keep: 1}
	d, _ := newDest(t, "bucket", s)
	ctx := context.Background()
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		day := logical.AddDate(0, 0, i)
		r := reportIn(t, dir, "posts", day, map[string][]byte{
			day.Format("20060102") + ".csv": fmt.Appendf(nil, "day %d\n", i),
			"latest.csv":                    fmt.Appendf(nil, "latest %d\n", i),
		})
		if i == 2 { // someone writes the second run's file again
			if _, err := srv.client.PutObject(ctx, bucket, "r/posts/20261105.csv", strings.NewReader("theirs"), 6, minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := d.Deliver(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"r/posts/20261105.csv", // written again: left alone
		"r/posts/20261106.csv",
		"r/posts/latest.csv", // the kept run's
		"r/posts/posts-20261106T060000Z.manifest.json",
	}
	if got := srv.keys(t, bucket); !slices.Equal(got, want) {
		t.Errorf("keys after retention:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if data, _ := srv.get(t, bucket, "r/posts/latest.csv"); string(data) != "latest 2\n" {
		t.Errorf("latest.csv = %q", data)
	}
}

// Check finds the bucket, puts a probe object where the keys go and
// removes it.
func TestCheck(t *testing.T) {
	srv := needServer(t)
	bucket := srv.bucket(t)
	s := srv.settings(bucket)
	s.Key = "exports/{{.Job}}/{{.File.Base}}"
	s.Retention = &output.Retention{Keep: 3}
	d, _ := newDest(t, "bucket", s)
	if err := d.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := srv.keys(t, bucket); len(got) != 0 {
		t.Errorf("Check left %v", got)
	}
	s.SecretAccessKey = "wrong"
	d, _ = newDest(t, "bucket", s)
	if err := d.Check(context.Background()); !delivery.IsPermanent(err) {
		t.Errorf("Check with a wrong secret = %v, want a permanent error", err)
	}
}

// --- helpers ------------------------------------------------------------

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// writeRandom writes size pseudo-random bytes to p and returns their hex
// SHA-256.
func writeRandom(t *testing.T, p string, size int64) string {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := mrand.NewChaCha8([32]byte{1, 2, 3})
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for n := int64(0); n < size; n += int64(len(buf)) {
		_, _ = rng.Read(buf)
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
		h.Write(buf)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// An error that would quote a credential (a store that echoes the access
// key, a proxy that prints the request) has it replaced; known codes are
// sorted into permanent and retryable.
func TestWrapRedactsAndSorts(t *testing.T) {
	d, err := newDestination("bucket", delivery.S3{Endpoint: "http://127.0.0.1:1", Bucket: "reports", AccessKeyID: "AKIDSHOWN", SecretAccessKey: "secretshown", SessionToken: "tokenshown"}, delivery.Env{})
	if err != nil {
		t.Fatal(err)
	}
	e := d.wrap(minio.ErrorResponse{Code: "InvalidAccessKeyId", Message: "key AKIDSHOWN with secretshown and tokenshown", StatusCode: 403})
	if !delivery.IsPermanent(e) {
		t.Errorf("InvalidAccessKeyId is not permanent: %v", e)
	}
	for _, s := range []string{"AKIDSHOWN", "secretshown", "tokenshown"} {
		if strings.Contains(e.Error(), s) {
			t.Errorf("the error holds %s: %v", s, e)
		}
	}
	if !strings.Contains(e.Error(), "check access_key_id") || !strings.Contains(e.Error(), "s3 bucket (bucket reports)") {
		t.Errorf("the error does not say what is wrong: %v", e)
	}
	for _, code := range []string{"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"} {
		if e := d.wrap(minio.ErrorResponse{Code: code, StatusCode: 503}); delivery.IsPermanent(e) {
			t.Errorf("%s is permanent: %v", code, e)
		}
	}
	if e := d.wrap(context.DeadlineExceeded); delivery.IsPermanent(e) || !errors.Is(e, context.DeadlineExceeded) {
		t.Errorf("a timeout: %v", e)
	}
}

// TestSlowServer: a store that takes connections and never answers fails
// the attempt when its context ends (the deliver entry's timeout), with an
// error to retry, not a hang.
func TestSlowServer(t *testing.T) {
	addr := testnet.Serve(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	r := report(t, "posts", logical, map[string][]byte{"posts.csv": []byte("a,b\n1,2\n")})
	yes := true
	d, order := newDest(t, "s3", delivery.S3{Endpoint: "http://" + addr, Bucket: "reports", PathStyle: &yes, AccessKeyID: "AK", SecretAccessKey: "SK"})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.Deliver(ctx, r)
	took := time.Since(start)
	if err == nil || delivery.IsPermanent(err) {
		t.Fatalf("Deliver = %v, want an error to retry", err)
	}
	if took > 3*time.Second {
		t.Fatalf("took %v with a 500ms context", took)
	}
	if len(*order) != 0 {
		t.Errorf("uploaded %v", *order)
	}
	t.Log(err)
}
