package benchrig

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// proc is one child process of the rig (painter, broker, agent), run as its
// own process so that its CPU time can be read from /proc on its own.
// Its stdout and stderr go to NAME.out and NAME.log in the work directory.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been waited for
	once sync.Once
	err  error // exit status; read only after done is closed
}

// startProc starts bin with args and env. stdout, if not nil, receives a copy
// of the process's standard output as well as the NAME.out file.
func startProc(dir, name, bin string, args, env []string, stdout io.Writer) (*proc, error) {
	outF, err := os.Create(filepath.Join(dir, name+".out"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	errF, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		outF.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = outF
	if stdout != nil {
		cmd.Stdout = io.MultiWriter(outF, stdout)
	}
	cmd.Stderr = errF
	// If the bench itself is killed, the kernel kills the children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		outF.Close()
		errF.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		outF.Close()
		errF.Close()
		close(p.done)
	}()
	return p, nil
}

// pid is the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// cpu is the CPU time the process and its children have used so far.
func (p *proc) cpu() (time.Duration, error) {
	if ok, err := p.exited(); ok {
		return 0, fmt.Errorf("%s exited: %v", p.name, err)
	}
	return treeCPU(p.pid())
}

// stop sends SIGTERM and waits up to grace for the exit, then kills. It is
// idempotent and safe to call on a process that already ended.
func (p *proc) stop(grace time.Duration) {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
}
