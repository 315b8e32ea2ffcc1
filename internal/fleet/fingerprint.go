package fleet

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"unicode/utf8"
)

// FingerprintV1 is the version prefix of every fingerprint this release
// computes and stores ("fp1:" + 32 hex digits).
//
// Why a version: robots.deployed_fingerprint and deployment_jobs.fingerprint
// are stored and compared with the fingerprint of a Sync's source spec
// (store.Jobs.SyncTargets). If the same spec ever fingerprinted differently,
// every robot would look out of sync and the next Sync would redeploy whole
// fleets. So the encoding below is an explicit field list written out by
// hand, never encoding/json of domain structs (a renamed or added field, or
// a change in encoding/json's escaping, would change it silently), and
// TestFingerprintGolden fails if any output changes.
//
// Migration story (docs/fingerprint.md, in short):
//   - Before fp1, fingerprints were the first 16 bytes of SHA-256 over
//     json.Marshal(spec.Apps), stored as bare hex. fp1 hashes exactly those
//     bytes (the encoder reproduces encoding/json's output as of Go 1.26,
//     TestFingerprintV1EqualsLegacyJSON), so migration 00004 only prefixes
//     the stored values with "fp1:": every robot InSync before the upgrade
//     stays InSync with its fleet's spec, and no robot is redeployed.
//   - A future fp2 (new fields that matter for "runs the same thing") is
//     added beside fp1, never in place of it: a spec's fingerprints in every
//     supported version are matched against stored ones (whose prefix says
//     their version), new values are written in fp2, and fp1 is retired
//     once no stored value carries its prefix (jobs are deleted after their
//     retention; a robot keeps its value until its next deployment).
const FingerprintV1 = "fp1:"

// fingerprintV1 is FingerprintV1 + hex(SHA-256(encodeAppsV1(apps))[:16]).
func fingerprintV1(apps []AppConfig) string {
	sum := sha256.Sum256(encodeAppsV1(nil, apps))
	return FingerprintV1 + hex.EncodeToString(sum[:16])
}

// encodeAppsV1 is fp1's canonical encoding of a job's applications: a JSON
// array, one object per application in the job's order, with exactly these
// members in this order (optional ones omitted when empty):
//
//	{"application":S,"applicationVersion":S,"launchConfig":{"packageName":S,"launchFile":S
//	 [,"preLaunchFile":S][,"postLaunchFile":S][,"environmentVariables":{K:S,…}]}}
//
// environmentVariables keys in byte order; strings escaped as appendStringV1
// says; no whitespace. A nil list is null, an empty one [].
func encodeAppsV1(b []byte, apps []AppConfig) []byte {
	if apps == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, a := range apps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"application":`...)
		b = appendStringV1(b, a.Application)
		b = append(b, `,"applicationVersion":`...)
		b = appendStringV1(b, a.ApplicationVersion)
		lc := a.LaunchConfig
		b = append(b, `,"launchConfig":{"packageName":`...)
		b = appendStringV1(b, lc.PackageName)
		b = append(b, `,"launchFile":`...)
		b = appendStringV1(b, lc.LaunchFile)
		if lc.PreLaunchFile != "" {
			b = append(b, `,"preLaunchFile":`...)
			b = appendStringV1(b, lc.PreLaunchFile)
		}
		if lc.PostLaunchFile != "" {
			b = append(b, `,"postLaunchFile":`...)
			b = appendStringV1(b, lc.PostLaunchFile)
		}
		if len(lc.EnvironmentVariables) > 0 {
			b = append(b, `,"environmentVariables":{`...)
			keys := make([]string, 0, len(lc.EnvironmentVariables))
			for k := range lc.EnvironmentVariables {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for j, k := range keys {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendStringV1(b, k)
				b = append(b, ':')
				b = appendStringV1(b, lc.EnvironmentVariables[k])
			}
			b = append(b, '}')
		}
		b = append(b, "}}"...)
	}
	return append(b, ']')
}

// appendStringV1 appends s as a JSON string, escaped as fp1 fixes it (which
// is what encoding/json did when fp1 was defined): `"` and `\` with a
// backslash; \b \f \n \r \t by name; other bytes below 0x20 and < > & as
// \u00XX (lower-case hex); U+2028 and U+2029 as \u2028 and \u2029; each
// byte of invalid UTF-8 as \ufffd; everything else as is.
func appendStringV1(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\b':
				b = append(b, `\b`...)
			case c == '\f':
				b = append(b, `\f`...)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '\r':
				b = append(b, `\r`...)
			case c == '\t':
				b = append(b, `\t`...)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028':
			b = append(b, `\u2028`...)
		case r == '\u2029':
			b = append(b, `\u2029`...)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
