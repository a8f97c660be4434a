// Package s3 is the s3 destination: it puts the files of a committed run
// into a bucket of an S3-compatible object store (AWS S3, MinIO,
// SeaweedFS, Ceph, R2, ...) with minio-go, and the run's manifest last, as
// the commit marker: object stores have no rename, so a reader that finds
// a manifest finds every object it lists, complete.
//
// Each file is streamed from disk: its size and SHA-256 are checked
// against the Report first (reading the open file once), then the same
// open file is uploaded, in one request up to the part size and as a
// multipart upload above it, each part read from the file at its offset
// (no part is held in memory). Each object carries the file's SHA-256 as
// user metadata (x-amz-meta-sha256) and a content type by format; each
// request (each part) carries a SHA-256 of its payload, computed as it
// streams and sent as a trailer, which the store verifies and keeps as
// the object's x-amz-checksum-sha256 (composite for a multipart upload).
//
// Delivering a run again puts the same keys again: the bucket holds each
// run's files once, whatever the number of attempts (exactly once in
// content; see docs/DELIVERY.md).
package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/output"
)

// Kind is the s3 kind of destination.
type Kind struct{}

// Name is the key of the kind's settings in a deliver entry.
func (Kind) Name() string { return "s3" }

// New makes the destination of spec, whose s3 settings are set and valid.
func (Kind) New(spec delivery.Spec, env delivery.Env) (delivery.Destination, error) {
	if spec.S3 == nil {
		return nil, fmt.Errorf("deliver %s: no s3 settings", spec.Name)
	}
	return newDestination(spec.Name, *spec.S3, env)
}

// defaultPartSize is the part size of multipart uploads without
// part_size_mb: 16 MiB makes 625 parts of a 10 GB file, well under S3's
// 10,000, and costs no memory (parts are read from the file).
const defaultPartSize = 16 << 20

// manifestLimit bounds the manifests read back (the run's own and the
// bucket's, for retention): a manifest lists a run's files, a few KB.
const manifestLimit = 16 << 20

// destination is one configured s3 destination.
type destination struct {
	name     string
	settings delivery.S3
	key      *template.Template
	client   *minio.Client
	secrets  []string // the credential values, kept out of every error
	partSize uint64
	env      delivery.Env

	// uploaded, when set (by tests), is told each key as its upload
	// completes.
	uploaded func(key string)
}

func newDestination(name string, s delivery.S3, env delivery.Env) (*destination, error) {
	key, err := delivery.ParseS3Key(s.Key)
	if err != nil {
		return nil, fmt.Errorf("deliver %s: %w", name, err)
	}
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	d := &destination{name: name, settings: s, key: key, partSize: defaultPartSize, env: env}
	if s.PartSizeMB > 0 {
		d.partSize = uint64(s.PartSizeMB) << 20
	}
	var creds *credentials.Credentials
	if s.AccessKeyID != "" || s.SecretAccessKey != "" {
		id, err1 := config.ExpandEnv(s.AccessKeyID)
		secret, err2 := config.ExpandEnv(s.SecretAccessKey)
		token, err3 := config.ExpandEnv(s.SessionToken)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("deliver %s: credentials: %w", name, err)
		}
		if id == "" || secret == "" {
			return nil, fmt.Errorf("deliver %s: credentials: access_key_id or secret_access_key is empty", name)
		}
		d.secrets = append(d.secrets, id, secret)
		if token != "" {
			d.secrets = append(d.secrets, token)
		}
		creds = credentials.NewStaticV4(id, secret, token)
	} else {
		// The standard AWS chain: the environment, the shared
		// credentials file, then the IAM role (EC2, ECS, EKS web
		// identity), in the order the AWS SDKs use.
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.FileAWSCredentials{},
			&credentials.IAM{},
		})
	}
	host, secure := "s3.amazonaws.com", true
	region := s.Region
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("deliver %s: endpoint: %w", name, err)
		}
		host, secure = u.Host, u.Scheme == "https"
		if region == "" {
			region = "us-east-1"
		}
	}
	lookup := minio.BucketLookupAuto
	if s.PathStyle != nil {
		lookup = minio.BucketLookupDNS
		if *s.PathStyle {
			lookup = minio.BucketLookupPath
		}
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("deliver %s: %w", name, err)
	}
	tr.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = 2 * time.Minute
	d.client, err = minio.New(host, &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Region:       region,
		BucketLookup: lookup,
		Transport:    tr,
		// The engine retries a failed delivery with its own backoff and
		// ledger: minio-go only rides out a short blip.
		MaxRetries: 2,
		// Trailing headers carry a checksum of each request's payload,
		// computed while it streams (checksum: sha256).
		TrailingHeaders: s.Checksum != "none",
	})
	if err != nil {
		return nil, fmt.Errorf("deliver %s: %w", name, err)
	}
	return d, nil
}

// object is one object of a delivery, in the order uploaded.
type object struct {
	key         string
	path        string // the local file
	rel         string // the file's path below output_dir
	output      string
	format      string
	size        int64
	sha256      string
	contentType string
}

// Deliver puts r's files into the bucket, then the manifest.
func (d *destination) Deliver(ctx context.Context, r *delivery.Report) (delivery.Receipt, error) {
	if len(r.Files) == 0 && r.Manifest == "" {
		return delivery.Receipt{}, nil
	}
	objs, err := d.objects(r)
	if err != nil {
		return delivery.Receipt{}, delivery.Permanent(d.wrap(err))
	}
	var rec delivery.Receipt
	var uploaded []s3Object
	checked, lastETag := false, ""
	for _, o := range objs {
		info, err := d.putFile(ctx, o, func() error {
			if checked {
				return nil
			}
			checked = true
			return d.bucketExists(ctx)
		})
		if err != nil {
			return rec, d.wrap(err)
		}
		rec.Items = append(rec.Items, o.key+" "+info.ETag)
		lastETag = info.ETag
		uploaded = append(uploaded, s3Object{Key: o.key, Path: o.rel, Output: o.output, Format: o.format, Size: o.size, SHA256: o.sha256, ContentType: o.contentType})
	}
	if !checked {
		if err := d.bucketExists(ctx); err != nil {
			return rec, d.wrap(err)
		}
	}
	if r.Manifest == "" {
		rec.ID = lastETag
		return rec, nil
	}
	// The manifest goes last: the commit marker of the run in the bucket.
	mkey, body, m, err := d.manifest(r, uploaded)
	if err != nil {
		return rec, delivery.Permanent(d.wrap(err))
	}
	sum := sha256.Sum256(body)
	info, err := d.put(ctx, mkey, bytes.NewReader(body), int64(len(body)), "application/json", hex.EncodeToString(sum[:]))
	if err != nil {
		return rec, d.wrap(fmt.Errorf("put manifest %s: %w", mkey, err))
	}
	rec.Items = append(rec.Items, mkey+" "+info.ETag)
	rec.ID = info.ETag
	if ret := d.settings.Retention; ret != nil && (ret.Keep > 0 || ret.Days > 0) {
		deleted, warnings, err := d.retain(ctx, m)
		for _, k := range deleted {
			d.env.Log.Info("s3 retention deleted an object", "deliver", d.name, "bucket", d.settings.Bucket, "key", k)
		}
		for _, w := range warnings {
			d.env.Log.Warn("s3 retention: "+w, "deliver", d.name, "bucket", d.settings.Bucket)
		}
		if err != nil {
			// The run is delivered: a retention that failed is tried
			// again after the next delivery, never a reason to put the
			// objects again.
			d.env.Log.Warn("s3 retention failed", "deliver", d.name, "bucket", d.settings.Bucket, "err", d.wrap(err).Error())
		}
	}
	return rec, nil
}

// objects makes the keys of r's files and checks them: one key per file.
func (d *destination) objects(r *delivery.Report) ([]object, error) {
	objs := make([]object, 0, len(r.Files))
	seen := make(map[string]string)
	for _, f := range r.Files {
		key, err := delivery.MakeS3Key(d.key, delivery.S3KeyData{Report: r, File: delivery.S3KeyFileOf(f)})
		if err != nil {
			return nil, err
		}
		if other, ok := seen[key]; ok {
			return nil, fmt.Errorf("key template: %s and %s both make the key %q", other, f.Rel, key)
		}
		seen[key] = f.Rel
		objs = append(objs, object{
			key: key, path: f.Path, rel: f.Rel, output: f.Output, format: f.Format,
			size: f.Size, sha256: f.SHA256, contentType: ContentType(f.Format, f.Path),
		})
	}
	return objs, nil
}

// bucketExists fails when the bucket does not exist. Some stores
// (SeaweedFS) make a missing bucket on the first PUT: a misspelt bucket
// would be made rather than refused. A user whose policy does not let it
// look at the bucket itself goes on to the uploads.
func (d *destination) bucketExists(ctx context.Context) error {
	ok, err := d.client.BucketExists(ctx, d.settings.Bucket)
	switch {
	case err != nil && errCode(err) != "AccessDenied":
		return fmt.Errorf("bucket %s: %w", d.settings.Bucket, err)
	case err == nil && !ok:
		return delivery.Permanent(fmt.Errorf("bucket %s does not exist (NoSuchBucket): joinery never makes buckets", d.settings.Bucket))
	}
	return nil
}

// putFile checks the file against the Report and uploads it from disk,
// calling before first, between the check and the upload.
func (d *destination) putFile(ctx context.Context, o object, before func() error) (minio.UploadInfo, error) {
	f, err := os.Open(o.path)
	if err != nil {
		return minio.UploadInfo{}, delivery.Permanent(fmt.Errorf("the report file is gone: %w", err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return minio.UploadInfo{}, err
	}
	if st.Size() != o.size {
		return minio.UploadInfo{}, delivery.Permanent(fmt.Errorf("%s has %d bytes, the run wrote %d: %w (changed or replaced since)", o.path, st.Size(), o.size, delivery.ErrChanged))
	}
	// The same open file is hashed, then uploaded: what the store gets
	// is what was checked, even if a later run replaces the name.
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, o.size)); err != nil {
		return minio.UploadInfo{}, fmt.Errorf("read %s: %w", o.path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, o.sha256) {
		return minio.UploadInfo{}, delivery.Permanent(fmt.Errorf("%s has SHA-256 %s, the run wrote %s: %w (changed or replaced since)", o.path, got, o.sha256, delivery.ErrChanged))
	}
	if err := before(); err != nil {
		return minio.UploadInfo{}, err
	}
	info, err := d.put(ctx, o.key, io.NewSectionReader(f, 0, o.size), o.size, o.contentType, strings.ToLower(o.sha256))
	if err != nil {
		return info, fmt.Errorf("put %s: %w", o.key, err)
	}
	return info, nil
}

// put uploads one object. r is an io.SectionReader (or bytes.Reader):
// minio-go reads each part at its offset rather than into a buffer.
func (d *destination) put(ctx context.Context, key string, r io.Reader, size int64, contentType, sha string) (minio.UploadInfo, error) {
	opts := minio.PutObjectOptions{
		ContentType:  contentType,
		UserMetadata: map[string]string{"sha256": sha},
		StorageClass: d.settings.StorageClass,
		PartSize:     d.partSize,
		NumThreads:   2,
	}
	if d.settings.Checksum != "none" {
		opts.Checksum = minio.ChecksumSHA256
	}
	info, err := d.client.PutObject(ctx, d.settings.Bucket, key, r, size, opts)
	if err != nil {
		return info, err
	}
	if d.uploaded != nil {
		d.uploaded(key)
	}
	return info, nil
}

// Check reaches the bucket without delivering: it exists, and a small
// probe object can be put and removed where the keys go.
func (d *destination) Check(ctx context.Context) error {
	if err := d.bucketExists(ctx); err != nil {
		return d.wrap(err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	probe := delivery.S3KeyPrefix(d.settings.Key) + ".joinery-probe-" + hex.EncodeToString(rnd[:])
	if _, err := d.client.PutObject(ctx, d.settings.Bucket, probe, strings.NewReader("joinery"), 7, minio.PutObjectOptions{ContentType: "text/plain"}); err != nil {
		return d.wrap(fmt.Errorf("put a probe object %s: %w", probe, err))
	}
	if err := d.client.RemoveObject(ctx, d.settings.Bucket, probe, minio.RemoveObjectOptions{}); err != nil {
		return d.wrap(fmt.Errorf("remove the probe object %s: %w", probe, err))
	}
	if ret := d.settings.Retention; ret != nil && (ret.Keep > 0 || ret.Days > 0) {
		for o := range d.client.ListObjects(ctx, d.settings.Bucket, minio.ListObjectsOptions{Prefix: delivery.S3KeyPrefix(d.settings.Key), MaxKeys: 1}) {
			if o.Err != nil {
				return d.wrap(fmt.Errorf("list the bucket for retention: %w", o.Err))
			}
			break
		}
	}
	return nil
}

// ContentType is the Content-Type of a report file by its format, and
// application/gzip for a compressed one.
func ContentType(format, name string) string {
	if strings.HasSuffix(name, ".gz") {
		return "application/gzip"
	}
	switch format {
	case "csv":
		return "text/csv; charset=utf-8"
	case "tsv":
		return "text/tab-separated-values; charset=utf-8"
	case "jsonl":
		return "application/jsonl"
	case "xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case "manifest":
		return "application/json"
	}
	return "application/octet-stream"
}

// s3Manifest is the manifest as the bucket holds it: the run's manifest
// and the objects of this destination, with their keys.
type s3Manifest struct {
	output.Manifest
	S3 *s3Section `json:"s3,omitempty"`
}

// s3Section says where a run's files went.
type s3Section struct {
	Destination string     `json:"destination"` // the deliver entry's name
	Bucket      string     `json:"bucket"`
	Objects     []s3Object `json:"objects"`
}

// s3Object is one object of a run in the bucket.
type s3Object struct {
	Key         string `json:"key"`
	Path        string `json:"path"` // the file's path below output_dir
	Output      string `json:"output,omitempty"`
	Format      string `json:"format"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"content_type"`
}

// manifest reads r's manifest and makes the bucket's copy of it: the same
// fields, and the objects with their keys. It returns the key, the body
// and the manifest.
func (d *destination) manifest(r *delivery.Report, objs []s3Object) (string, []byte, *s3Manifest, error) {
	data, err := readLimited(r.Manifest)
	if err != nil {
		return "", nil, nil, fmt.Errorf("read the manifest: %w", err)
	}
	m := &s3Manifest{}
	if err := json.Unmarshal(data, &m.Manifest); err != nil {
		return "", nil, nil, fmt.Errorf("read the manifest %s: %w", r.Manifest, err)
	}
	if objs == nil {
		objs = []s3Object{}
	}
	m.S3 = &s3Section{Destination: d.name, Bucket: d.settings.Bucket, Objects: objs}
	rel := manifestRel(r)
	key, err := delivery.MakeS3Key(d.key, delivery.S3KeyData{Report: r, File: delivery.S3KeyFile{
		Base: path.Base(rel), Rel: rel, Dir: path.Dir(rel), Format: "manifest", Size: int64(len(data)),
	}})
	if err != nil {
		return "", nil, nil, err
	}
	for _, o := range objs {
		if o.Key == key {
			return "", nil, nil, fmt.Errorf("key template: the manifest and %s both make the key %q", o.Path, key)
		}
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", nil, nil, err
	}
	return key, append(body, '\n'), m, nil
}

// manifestRel is the manifest's path below output_dir, with / separators.
func manifestRel(r *delivery.Report) string {
	if r.Dir != "" {
		if rel, err := relSlash(r.Dir, r.Manifest); err == nil {
			return rel
		}
	}
	return filepath.Base(r.Manifest)
}

// relSlash is target's path below dir, with / separators; an error when
// it is not below dir.
func relSlash(dir, target string) (string, error) {
	rel, err := filepath.Rel(dir, target)
	if err != nil {
		return "", err
	}
	if rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is not below %s", target, dir)
	}
	return filepath.ToSlash(rel), nil
}

func readLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, manifestLimit+1))
	if err != nil {
		return nil, err
	}
	if len(data) > manifestLimit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, manifestLimit)
	}
	return data, nil
}

// permanentCodes are the S3 error codes another attempt cannot cure: the
// bucket, the credentials, the key, the request.
var permanentCodes = map[string]string{
	"NoSuchBucket":                 "the bucket does not exist",
	"AccessDenied":                 "the credentials may not do this: check the bucket policy and the user's permissions",
	"AllAccessDisabled":            "access to the bucket is disabled",
	"InvalidAccessKeyId":           "the access key is unknown to the store: check access_key_id",
	"SignatureDoesNotMatch":        "the store refused the signature: check secret_access_key (and region)",
	"AuthorizationHeaderMalformed": "the store refused the authorization: check region",
	"InvalidBucketName":            "the bucket name is invalid",
	"InvalidStorageClass":          "the store does not know storage_class",
	"InvalidArgument":              "the store refused an argument (checksum: none if it refuses SHA-256 checksums)",
	"KeyTooLongError":              "the key is too long",
	"EntityTooLarge":               "the file is larger than the store takes",
	"InvalidRegion":                "the region is wrong: check region",
	"PermanentRedirect":            "the bucket is in another region: check region and endpoint",
	"AccountProblem":               "the store's account has a problem",
	"NotImplemented":               "the store does not implement a request joinery makes",
	"MethodNotAllowed":             "the store does not allow the request",
	"InvalidToken":                 "the session token is invalid: check session_token",
	"ExpiredToken":                 "the session token has expired",
}

// errCode is the S3 error code in err's chain, "" when there is none.
func errCode(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code
	}
	return ""
}

// wrap names the destination and bucket in err, adds a hint for a known
// S3 error code, marks those that another attempt cannot cure as
// permanent, and takes the credentials out of the message.
func (d *destination) wrap(err error) error {
	if err == nil {
		return nil
	}
	permanent := delivery.IsPermanent(err)
	msg := err.Error()
	if code := errCode(err); code != "" {
		if hint, ok := permanentCodes[code]; ok {
			msg += " (" + code + ": " + hint + ")"
			permanent = true
		} else {
			msg += " (" + code + ")"
		}
	}
	for _, s := range d.secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	out := &deliverError{msg: fmt.Sprintf("s3 %s (bucket %s): %s", d.name, d.settings.Bucket, msg), err: err}
	if permanent {
		return delivery.Permanent(out)
	}
	return out
}

// deliverError is an error of the destination with its message cleaned;
// errors.Is and errors.As still reach the cause (context.DeadlineExceeded,
// a net.Error).
type deliverError struct {
	msg string
	err error
}

func (e *deliverError) Error() string { return e.msg }
func (e *deliverError) Unwrap() error { return e.err }
