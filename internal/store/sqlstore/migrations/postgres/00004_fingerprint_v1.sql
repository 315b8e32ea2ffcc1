-- +goose Up
-- Fingerprints become versioned (fleet.FingerprintV1). fp1 hashes exactly
-- the bytes the unversioned fingerprints hashed, so prefixing every stored
-- value is the whole migration: robots InSync before stay InSync with the
-- same spec, and no Sync redeploys them.
UPDATE deployment_jobs SET fingerprint = 'fp1:' || fingerprint
    WHERE fingerprint <> '' AND fingerprint NOT LIKE 'fp%:%';
UPDATE robots SET deployed_fingerprint = 'fp1:' || deployed_fingerprint
    WHERE deployed_fingerprint <> '' AND deployed_fingerprint NOT LIKE 'fp%:%';

-- +goose Down
UPDATE deployment_jobs SET fingerprint = substr(fingerprint, 5) WHERE fingerprint LIKE 'fp1:%';
UPDATE robots SET deployed_fingerprint = substr(deployed_fingerprint, 5) WHERE deployed_fingerprint LIKE 'fp1:%';
