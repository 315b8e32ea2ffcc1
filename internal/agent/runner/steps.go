package runner

import (
	"errors"
	"net/http"

	"github.com/fleetsync/fleetsync/internal/agent/bundle"
	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// stepFailureCode is the failure code of a step that failed for a reason
// without a more precise code of its own.
var stepFailureCode = map[proto.Step]string{
	proto.StepValidating:                 proto.FailureEnvironmentSetup,
	proto.StepExecutingDownloadCondition: proto.FailureDownloadConditionFailed,
	proto.StepDownloadingExtracting:      proto.FailureExtractingBundle,
	proto.StepExecutingPreLaunch:         proto.FailurePreLaunchFile,
	proto.StepLaunching:                  proto.FailureEnvironmentSetup,
	proto.StepExecutingPostLaunch:        proto.FailurePostLaunchFile,
	proto.StepFinished:                   proto.FailureInternal,
}

// FailureCode maps the error that ended a step to the failure code reported
// to the server (AWS DeploymentJobErrorCode values). Within
// DownloadingExtracting, content that is not the recorded object is
// EtagMismatch, an object the store no longer has is ResourceNotFound, a
// download that kept failing is DownloadingBundleFailure and everything
// else (a corrupt or hostile archive, a full disk) ExtractingBundleFailure.
// A download condition that cannot be fetched fails as the condition
// itself would.
func FailureCode(step proto.Step, err error) string {
	if step == proto.StepDownloadingExtracting {
		var de *downloadError
		if errors.As(err, &de) {
			if _, ok := errors.AsType[*client.IntegrityError](err); ok {
				return proto.FailureEtagMismatch
			}
			if he, ok := errors.AsType[*client.HTTPError](err); ok && he.Status == http.StatusNotFound {
				return proto.FailureResourceNotFound
			}
			return proto.FailureDownload
		}
		if bundle.Refused(err) {
			return proto.FailureExtractingBundle
		}
	}
	if code, ok := stepFailureCode[step]; ok {
		return code
	}
	return proto.FailureInternal
}

// downloadError marks a failure to fetch the bundle (as opposed to one to
// extract it).
type downloadError struct{ err error }

func (e *downloadError) Error() string { return e.err.Error() }
func (e *downloadError) Unwrap() error { return e.err }
