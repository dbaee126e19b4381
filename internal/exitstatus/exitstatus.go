// Package exitstatus reads a finished command's exit status from the error
// exec.Cmd returned, for agent code whose tools answer through their status
// (zenity: OK, Cancel or timeout; userdel: no such user, home not removed).
package exitstatus

import (
	"errors"
	"os/exec"
)

// Of is the command's exit status: 0 for a nil error, the status for an
// *exec.ExitError (also wrapped), and -1 when the process did not exit
// normally (killed by a signal) or never started.
func Of(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
