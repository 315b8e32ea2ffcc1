package s3blob_test

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) uploads the test objects, as users' tools do.

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/s3"

	"github.com/fleetsync/fleetsync/internal/blob/blobtest"
	"github.com/fleetsync/fleetsync/internal/blob/s3blob"
	"github.com/fleetsync/fleetsync/internal/s3test"
)

// TestConformance runs the blob.Store suite on s3blob over a real
// versitygw: one gateway, a fresh bucket (and store) per subtest, objects
// uploaded with the AWS SDK as operators' tools do.
func TestConformance(t *testing.T) {
	srv := s3test.Start(t)
	for _, e := range srv.Env() {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	c := srv.Client()
	n := 0
	blobtest.Run(t, func(t *testing.T) blobtest.Fixture {
		n++
		bucket, missing := fmt.Sprintf("conformance-%d", n), fmt.Sprintf("missing-%d", n)
		if _, err := c.CreateBucket(&s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Fatal(err)
		}
		o, err := s3blob.ParseURL(srv.BundlesURL("buckets=" + bucket + "," + missing))
		if err != nil {
			t.Fatal(err)
		}
		st, err := s3blob.New(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		return blobtest.Fixture{Store: st, Bucket: bucket, MissingBucket: missing,
			Put: func(t *testing.T, key string, content []byte) {
				if _, err := c.PutObject(&s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(content)}); err != nil {
					t.Fatal(err)
				}
			}}
	})
}
