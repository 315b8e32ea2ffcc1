// Command fleetsync-bundle builds a colcon bundle (format v2, or v1 on
// request) from a colcon install space: a workspace overlay plus a
// dependencies overlay of Debian packages fetched with this machine's apt
// configuration (see internal/bundler). It works on current Debian and
// Ubuntu releases, is deterministic, and can copy the bundle into a
// fleetsyncd file store and print the AWS CLI commands that make it a
// robot application version.
//
//	fleetsync-bundle --install install --deb python3-rospy [--deb …] [--rosdep] \
//	    [--format 2|1] [--exclude PKG …] [--no-recurse] [--cache DIR] -o bundle.tar
//	    [--file-store DIR --bucket B --key K] [--application ARN] [--endpoint-url URL]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fleetsync/fleetsync/internal/bundler"
)

type list []string

func (l *list) String() string { return strings.Join(*l, ",") }
func (l *list) Set(v string) error {
	for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		*l = append(*l, s)
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetsync-bundle:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fleetsync-bundle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var debs, exclude list
	install := fs.String("install", "install", "colcon install space to bundle")
	out := fs.String("o", "output.tar", "bundle file to write")
	format := fs.Int("format", 2, "bundle format version: 2 (overlays, reused by robots) or 1")
	fs.Var(&debs, "deb", "Debian package for the dependencies overlay (repeatable, or comma-separated)")
	fs.Var(&exclude, "exclude", "Debian package to leave out even when a bundled package depends on it (repeatable)")
	rosdep := fs.Bool("rosdep", false, "also bundle the exec dependencies of the install space's ROS packages, resolved by rosdep")
	noRecurse := fs.Bool("no-recurse", false, "bundle only the packages named, not what they depend on")
	includeBase := fs.Bool("include-base", false, "also bundle the C runtime and Essential/required packages")
	cache := fs.String("cache", defaultCache(), "directory keeping downloaded .deb files")
	store := fs.String("file-store", "", "copy the bundle into this fleetsyncd file store (its --bundles directory) as BUCKET/KEY")
	bucket := fs.String("bucket", "", "bucket of the uploaded bundle (with --file-store) or of the printed commands")
	key := fs.String("key", "", "key of the uploaded bundle (default: the output file's name)")
	app := fs.String("application", "", "robot application ARN for the printed create-robot-application-version command")
	suite := fs.String("software-suite", "ROS", "software suite (ROS, ROS2, General) for the printed command")
	arch := fs.String("architecture", "X86_64", "architecture (X86_64, ARM64, ARMHF) for the printed command")
	endpoint := fs.String("endpoint-url", "", "fleetsyncd URL for the printed commands")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	began := time.Now()
	res, err := bundler.Build(ctx, bundler.Options{
		InstallSpace: *install, Debs: debs, Rosdep: *rosdep, Exclude: exclude, IncludeBase: *includeBase,
		NoRecurse: *noRecurse, Version: *format, CacheDir: *cache,
		Warn: func(s string) { fmt.Fprintln(stderr, "fleetsync-bundle: warning:", s) },
	}, *out)
	if err != nil {
		return err
	}
	took := time.Since(began)
	k := *key
	if k == "" {
		k = filepath.Base(*out)
	}
	var uploaded string
	if *store != "" {
		if uploaded, err = bundler.Upload(res, *store, *bucket, k); err != nil {
			return err
		}
	}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(map[string]any{"bundle": res, "seconds": took.Seconds(), "uploaded": uploaded})
	}
	fmt.Fprintf(stdout, "wrote %s: colcon bundle v%d, %d bytes, sha256 %s, ETag %s, %d Debian packages, in %v\n",
		res.Path, res.Version, res.Size, res.SHA256, res.ETag, len(res.Debs), took.Round(time.Millisecond))
	for _, o := range res.Overlays {
		fmt.Fprintf(stdout, "  overlay %s: %d bytes at %d, sha256 %s\n", o.Name, o.Size, o.Offset, o.SHA256)
	}
	if uploaded != "" {
		fmt.Fprintf(stdout, "copied to %s (s3://%s/%s)\n", uploaded, *bucket, k)
	}
	if *bucket != "" {
		ep := ""
		if *endpoint != "" {
			ep = " --endpoint-url " + *endpoint
		}
		a := *app
		if a == "" {
			a = "ARN"
		}
		if uploaded == "" {
			fmt.Fprintf(stdout, "next: aws s3 cp %s s3://%s/%s\n", res.Path, *bucket, k)
		}
		fmt.Fprintf(stdout, "next: aws robomaker update-robot-application%s --application %s --robot-software-suite name=%s --sources s3Bucket=%s,s3Key=%s,architecture=%s\n",
			ep, a, *suite, *bucket, k, *arch)
		fmt.Fprintf(stdout, "next: aws robomaker create-robot-application-version%s --application %s --s3-etags '%s'\n", ep, a, res.ETag)
	}
	return nil
}

func defaultCache() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "fleetsync-bundle", "debs")
	}
	return ""
}
