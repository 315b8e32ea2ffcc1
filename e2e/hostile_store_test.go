package e2e

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"
)

// TestBundleStoreHostileFiles: a FIFO where a bundle should be answers a
// 4xx naming the object within a second (it used to hang the request, a
// thread each, forever); a bucket directory that is a symlink out of the
// store root is a bucket that does not exist (it used to answer 503).
func TestBundleStoreHostileFiles(t *testing.T) {
	s := startAPI(t)
	c := quiet(s.Client())
	makeBucket(t, s, "apps")
	must(t, syscall.Mkfifo(filepath.Join(s.BundleDir, "apps", "fifo.tar"), 0o644))
	must(t, os.MkdirAll(filepath.Join(s.BundleDir, "apps", "dir.tar"), 0o755))
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "b.tar"), []byte("outside the root"), 0o644))
	must(t, os.Symlink(outside, filepath.Join(s.BundleDir, "escape")))

	for _, key := range []string{"fifo.tar", "dir.tar"} {
		app, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{
			Name:               aws.String(uniq("hostile")),
			RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
			Sources: []*robomaker.SourceConfig{{S3Bucket: aws.String("apps"), S3Key: aws.String(key),
				Architecture: aws.String("X86_64")}},
		})
		must(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = c.CreateRobotApplicationVersionWithContext(ctx, &robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
		late := ctx.Err()
		cancel()
		if late != nil {
			t.Fatalf("CreateRobotApplicationVersion on s3://apps/%s: no answer within a second", key)
		}
		wantErr(t, err, "InvalidParameterException", "s3://apps/"+key)
	}

	_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{
		Name:               aws.String(uniq("hostile")),
		RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
		Sources: []*robomaker.SourceConfig{{S3Bucket: aws.String("escape"), S3Key: aws.String("b.tar"),
			Architecture: aws.String("X86_64")}},
	})
	wantErr(t, err, "InvalidParameterException", `bucket "escape"`)
}
