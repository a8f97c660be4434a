package s3

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/output"
)

// bucketRun is one run in the bucket: its manifest's key and content.
type bucketRun struct {
	key string
	m   s3Manifest
}

// retain deletes the objects of older runs of the job that this
// destination delivered, by the retention of its settings, as
// output.Dir.Retain does for output_dir: it lists the manifests below the
// key template's fixed prefix, keeps the runs of the newest Keep logical
// times, those at most Days days old, the newest and the current one
// (cur), and deletes the objects the others list, then their manifests.
// It never deletes a key that a kept run lists too, nor an object whose
// x-amz-meta-sha256 is not the one the manifest records (a newer run, or
// someone else, wrote the key again), nor anything no manifest of this job
// and destination lists. It returns the keys deleted and warnings.
func (d *destination) retain(ctx context.Context, cur *s3Manifest) (deleted, warnings []string, err error) {
	ret := d.settings.Retention
	runs, warnings, err := d.scan(ctx, cur.Job)
	if err != nil {
		return nil, warnings, err
	}
	now := time.Now()
	if d.env.Now != nil {
		now = d.env.Now()
	}
	keep := make([]bool, len(runs))
	times := 0
	for i, x := range runs {
		if i == 0 || !x.m.Logical.Equal(runs[i-1].m.Logical) {
			times++
		}
		keep[i] = times == 1 || times <= ret.Keep || x.m.Logical.Equal(cur.Logical) ||
			ret.Days > 0 && now.Sub(x.m.Logical) <= time.Duration(ret.Days)*24*time.Hour
	}
	protected := make(map[string]bool)
	for i, x := range runs {
		if keep[i] {
			protected[x.key] = true
			for _, o := range x.m.S3.Objects {
				protected[o.Key] = true
			}
		}
	}
	for _, o := range cur.S3.Objects { // the run just delivered, listed or not
		protected[o.Key] = true
	}
	for i, x := range runs {
		if keep[i] || protected[x.key] {
			continue
		}
		for _, o := range x.m.S3.Objects {
			if protected[o.Key] {
				continue
			}
			st, err := d.client.StatObject(ctx, d.settings.Bucket, o.Key, minio.StatObjectOptions{})
			switch {
			case errCode(err) == "NoSuchKey":
				continue // gone already (an earlier pass stopped half way)
			case err != nil:
				return deleted, warnings, fmt.Errorf("retention: stat %s: %w", o.Key, err)
			case !strings.EqualFold(metaSHA256(st), o.SHA256):
				warnings = append(warnings, fmt.Sprintf("%s of the run of %s was written again since (its SHA-256 is not the manifest's): left alone", o.Key, x.m.Logical.Format(time.RFC3339)))
				continue
			}
			if err := d.client.RemoveObject(ctx, d.settings.Bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
				return deleted, warnings, fmt.Errorf("retention: remove %s: %w", o.Key, err)
			}
			deleted = append(deleted, o.Key)
		}
		// The manifest goes last: until then it records what is left, and
		// the next delivery finishes a pass that stopped half way.
		if err := d.client.RemoveObject(ctx, d.settings.Bucket, x.key, minio.RemoveObjectOptions{}); err != nil {
			return deleted, warnings, fmt.Errorf("retention: remove %s: %w", x.key, err)
		}
		deleted = append(deleted, x.key)
	}
	return deleted, warnings, nil
}

// scan reads the manifests of job's runs that this destination put into
// the bucket, below the key template's fixed prefix, newest logical time
// first (and of two for one logical time, the one that started last).
func (d *destination) scan(ctx context.Context, job string) (runs []bucketRun, warnings []string, err error) {
	prefix := delivery.S3KeyPrefix(d.settings.Key)
	var keys []string
	for o := range d.client.ListObjects(ctx, d.settings.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, nil, fmt.Errorf("retention: list %s/%s: %w", d.settings.Bucket, prefix, o.Err)
		}
		if strings.HasSuffix(o.Key, output.ManifestSuffix) && o.Size <= manifestLimit {
			keys = append(keys, o.Key)
		}
	}
	for _, key := range keys {
		obj, err := d.client.GetObject(ctx, d.settings.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			return nil, warnings, fmt.Errorf("retention: get %s: %w", key, err)
		}
		data, err := io.ReadAll(io.LimitReader(obj, manifestLimit))
		obj.Close()
		if errCode(err) == "NoSuchKey" {
			continue
		}
		if err != nil {
			return nil, warnings, fmt.Errorf("retention: get %s: %w", key, err)
		}
		var m s3Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			warnings = append(warnings, fmt.Sprintf("%s is not a manifest joinery can read (%v): left alone", key, err))
			continue
		}
		if m.Job != job || m.S3 == nil || m.S3.Destination != d.name || m.S3.Bucket != d.settings.Bucket {
			continue // another job's, another destination's, or not joinery's
		}
		runs = append(runs, bucketRun{key: key, m: m})
	}
	sort.SliceStable(runs, func(i, j int) bool {
		a, b := runs[i].m, runs[j].m
		if !a.Logical.Equal(b.Logical) {
			return a.Logical.After(b.Logical)
		}
		return a.Started.After(b.Started)
	})
	return runs, warnings, nil
}

// metaSHA256 is the x-amz-meta-sha256 of an object.
func metaSHA256(st minio.ObjectInfo) string {
	for k, v := range st.UserMetadata {
		if strings.EqualFold(k, "sha256") || strings.EqualFold(k, "x-amz-meta-sha256") {
			return v
		}
	}
	return ""
}
