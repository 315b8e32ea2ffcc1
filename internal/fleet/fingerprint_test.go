package fleet

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// goldenSpecs are the specs of TestFingerprintGolden: one application, the
// optional members, several applications, every escape of the encoding.
var goldenSpecs = []struct {
	name string
	apps []AppConfig
}{
	{"nil", nil},
	{"empty", []AppConfig{}},
	{"minimal", []AppConfig{{Application: "arn:aws:robomaker:us-east-1:123456789012:robot-application/app/1700000000000", ApplicationVersion: "1",
		LaunchConfig: LaunchConfig{PackageName: "app", LaunchFile: "run.sh"}}}},
	{"every member", []AppConfig{{Application: "arn:aws:robomaker:us-east-1:123456789012:robot-application/nav/1700000000001", ApplicationVersion: "12",
		LaunchConfig: LaunchConfig{PackageName: "nav", LaunchFile: "nav.launch", PreLaunchFile: "pre.sh", PostLaunchFile: "/opt/post.sh",
			EnvironmentVariables: map[string]string{"ZETA": "last", "ALPHA": "first", "MID_1": "x=y"}}}}},
	{"two applications", []AppConfig{
		{Application: "arn:a", ApplicationVersion: "1", LaunchConfig: LaunchConfig{PackageName: "p", LaunchFile: "f"}},
		{Application: "arn:b", ApplicationVersion: "2", LaunchConfig: LaunchConfig{PackageName: "q", LaunchFile: "g", PostLaunchFile: "post"}},
	}},
	{"escapes", []AppConfig{{Application: "arn:\"quoted\"\\", ApplicationVersion: "1",
		LaunchConfig: LaunchConfig{PackageName: "<p>&", LaunchFile: "a\b\f\n\r\t\x01\x1fz",
			EnvironmentVariables: map[string]string{"K": "é\u2028\u2029\xff日本"}}}}},
}

// TestFingerprintGolden pins fp1: these values are stored in databases
// (robots.deployed_fingerprint, deployment_jobs.fingerprint). If this test
// fails, the change would make every deployed robot look out of sync and
// the next SyncDeploymentJob redeploy whole fleets: do not update the
// expected values; add a new version instead (see FingerprintV1).
func TestFingerprintGolden(t *testing.T) {
	want := map[string]string{
		"nil":              "fp1:74234e98afe7498fb5daf1f36ac2d78a",
		"empty":            "fp1:4f53cda18c2baa0c0354bb5f9a3ecbe5",
		"minimal":          "fp1:09f60b2079464b095e9d8bb7184577f2",
		"every member":     "fp1:818fdd9338861f896fa6bb5306d3e174",
		"two applications": "fp1:c9065a7e3af1fc6d7a3b0dd8c27d4d37",
		"escapes":          "fp1:d0578c694b6c5ab756800ba52a5b4037",
	}
	for _, g := range goldenSpecs {
		got := JobSpec{Apps: g.apps}.Fingerprint()
		if got != want[g.name] {
			t.Errorf("%s: fingerprint %s, want %s", g.name, got, want[g.name])
		}
	}
}

// TestFingerprintIgnoresRollout: the rollout settings are not what a robot
// runs; a Sync copying a job with other settings leaves InSync robots alone.
func TestFingerprintIgnoresRollout(t *testing.T) {
	apps := goldenSpecs[3].apps
	a := JobSpec{Apps: apps, Config: DeploymentConfig{ConcurrentPercent: 20, FailureThresholdPercent: 25, RobotTimeoutSeconds: 60}}
	b := JobSpec{Apps: apps, Config: DeploymentConfig{ConcurrentPercent: 100, FailureThresholdPercent: 1, RobotTimeoutSeconds: 600,
		DownloadCondition: &S3Path{Bucket: "b", Key: "k"}}}
	if a.Fingerprint() != b.Fingerprint() {
		t.Error("fingerprint depends on the deployment config")
	}
	c := JobSpec{Apps: []AppConfig{apps[0]}}
	c.Apps[0].ApplicationVersion = "13"
	if c.Fingerprint() == a.Fingerprint() {
		t.Error("another version has the same fingerprint")
	}
}

// legacyFingerprint is the fingerprint before fp1, as stored by earlier
// releases (bare hex of SHA-256 over json.Marshal of the applications).
func legacyFingerprint(apps []AppConfig) string {
	b, _ := json.Marshal(apps)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// TestFingerprintV1EqualsLegacyJSON is the proof behind migration 00004:
// fp1 hashes byte for byte what earlier releases hashed (json.Marshal of
// the applications with the Go these fingerprints were stored with), so
// prefixing a stored value with "fp1:" is the whole migration.
func TestFingerprintV1EqualsLegacyJSON(t *testing.T) {
	check := func(apps []AppConfig) {
		t.Helper()
		legacy, _ := json.Marshal(apps)
		if got := encodeAppsV1(nil, apps); string(got) != string(legacy) {
			t.Fatalf("encoding differs from the legacy one:\n got %s\nwant %s", got, legacy)
		}
		if got, want := fingerprintV1(apps), FingerprintV1+legacyFingerprint(apps); got != want {
			t.Fatalf("fingerprint %s, want %s", got, want)
		}
	}
	for _, g := range goldenSpecs {
		check(g.apps)
	}
	// Random specs over an alphabet with every class of character the
	// escaping distinguishes.
	alphabet := []string{"a", "Z", "0", "/", ":", "_", "=", " ", "\"", "\\", "\b", "\f", "\n", "\r", "\t", "\x00", "\x1f", "\x7f",
		"<", ">", "&", "é", "日", "\u2028", "\u2029", "\xff", "\xc3", "\U0001F916", "\ufffd"}
	rng := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		n := rng.IntN(8)
		s := ""
		for range n {
			s += alphabet[rng.IntN(len(alphabet))]
		}
		return s
	}
	for range 2000 {
		apps := make([]AppConfig, rng.IntN(4))
		for i := range apps {
			apps[i] = AppConfig{Application: str(), ApplicationVersion: str(),
				LaunchConfig: LaunchConfig{PackageName: str(), LaunchFile: str(), PreLaunchFile: str(), PostLaunchFile: str()}}
			if n := rng.IntN(4); n > 0 {
				apps[i].LaunchConfig.EnvironmentVariables = map[string]string{}
				for range n {
					apps[i].LaunchConfig.EnvironmentVariables[str()] = str()
				}
			}
		}
		check(apps)
	}
}
