package winservice

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// mgrConfig is the service's registration for the service control manager.
func mgrConfig() mgr.Config {
	return mgr.Config{
		ServiceType:  windows.SERVICE_WIN32_OWN_PROCESS,
		StartType:    mgr.StartAutomatic,
		ErrorControl: mgr.ErrorNormal,
		DisplayName:  DisplayName,
		Description:  Description,
		// ServiceStartName "" is LocalSystem.
	}
}

// mgrRecovery is Recovery for the service control manager.
func mgrRecovery() []mgr.RecoveryAction {
	out := make([]mgr.RecoveryAction, len(Recovery))
	for i, a := range Recovery {
		out[i] = mgr.RecoveryAction{Type: mgr.NoAction, Delay: a.Delay}
		if a.Restart {
			out[i].Type = mgr.ServiceRestart
		}
	}
	return out
}

// Install registers the service named name (Name, except in tests) with
// cfg's command line and recovery actions, and starts it unless start is
// false. A service of that name already registered is updated to cfg.
func Install(name string, cfg Config, start bool) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service control manager (run as an administrator): %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err == nil {
		if err := update(s.Handle, cfg); err != nil {
			s.Close()
			return fmt.Errorf("update service %s: %w", name, err)
		}
	} else {
		s, err = m.CreateService(name, cfg.Exe, mgrConfig(), cfg.ServiceArgs()...)
		if err != nil {
			return fmt.Errorf("create service %s: %w", name, err)
		}
	}
	defer s.Close()
	if err := s.SetRecoveryActions(mgrRecovery(), uint32(RecoveryReset/time.Second)); err != nil {
		return fmt.Errorf("service %s recovery actions: %w", name, err)
	}
	// Wine 8 lacks SERVICE_CONFIG_FAILURE_ACTIONS_FLAG (ERROR_INVALID_LEVEL);
	// every Windows since Vista has it.
	if err := s.SetRecoveryActionsOnNonCrashFailures(RecoveryOnNonCrash); err != nil && !errors.Is(err, windows.ERROR_INVALID_LEVEL) {
		return fmt.Errorf("service %s recovery on non-crash failures: %w", name, err)
	}
	if !start {
		return nil
	}
	if err := s.Start(); err != nil && !errors.Is(err, windows.ERROR_SERVICE_ALREADY_RUNNING) {
		return fmt.Errorf("start service %s: %w", name, err)
	}
	return nil
}

// update re-registers an installed service with cfg: what CreateService
// sets, through the two calls Windows and Wine both have (mgr's
// UpdateConfig also sets levels Wine 8 lacks).
func update(h windows.Handle, cfg Config) error {
	c := mgrConfig()
	line, err := windows.UTF16PtrFromString(cfg.CommandLine())
	if err != nil {
		return err
	}
	display, err := windows.UTF16PtrFromString(c.DisplayName)
	if err != nil {
		return err
	}
	if err := windows.ChangeServiceConfig(h, c.ServiceType, c.StartType, c.ErrorControl, line, nil, nil, nil, nil, nil, display); err != nil {
		return err
	}
	desc, err := windows.UTF16PtrFromString(c.Description)
	if err != nil {
		return err
	}
	d := windows.SERVICE_DESCRIPTION{Description: desc}
	return windows.ChangeServiceConfig2(h, windows.SERVICE_CONFIG_DESCRIPTION, (*byte)(unsafe.Pointer(&d)))
}

// Stop stops the service named name and waits (up to ctx) until it has
// stopped. ErrNotInstalled if there is no such service.
func Stop(ctx context.Context, name string) error {
	return withService(name, func(s *mgr.Service) error { return stop(ctx, s) })
}

// withService calls f with the service named name (ErrNotInstalled if
// there is none).
func withService(name string, f func(*mgr.Service) error) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service control manager (run as an administrator): %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		return fmt.Errorf("%w: %w", ErrNotInstalled, err)
	}
	if err != nil {
		return fmt.Errorf("open service %s: %w", name, err)
	}
	defer s.Close()
	return f(s)
}

func stop(ctx context.Context, s *mgr.Service) error {
	st, err := s.Query()
	if err != nil {
		return fmt.Errorf("query service %s: %w", s.Name, err)
	}
	if st.State == svc.Stopped {
		return nil
	}
	if st.State != svc.StopPending {
		if _, err := s.Control(svc.Stop); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
			return fmt.Errorf("stop service %s: %w", s.Name, err)
		}
	}
	for {
		st, err := s.Query()
		if err != nil {
			return fmt.Errorf("query service %s: %w", s.Name, err)
		}
		if st.State == svc.Stopped {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %s did not stop: %w", s.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Delete stops the service named name (waiting up to ctx) and deletes
// it. ErrNotInstalled if there is no such service.
func Delete(ctx context.Context, name string) error {
	return withService(name, func(s *mgr.Service) error {
		if err := stop(ctx, s); err != nil {
			return err
		}
		// The service is gone once its last handle closes; a service
		// already marked for deletion is on its way.
		if err := s.Delete(); err != nil && !errors.Is(err, windows.ERROR_SERVICE_MARKED_FOR_DELETE) {
			return fmt.Errorf("delete service %s: %w", name, err)
		}
		return nil
	})
}

// Status is the state of the service named name: "running", "stopped"…
func Status(name string) (string, error) {
	var state string
	err := withService(name, func(s *mgr.Service) error {
		st, err := s.Query()
		state = stateName(st.State)
		return err
	})
	return state, err
}

// Run runs the agent (run) as the service named name under the service
// control manager, until Stop or Shutdown cancel run's context or run
// returns. A run that ends with an error makes the service exit with a
// non-zero code, so that its recovery actions restart it. (The helper
// follows the console session by polling it, so session-change
// notifications are not asked for.)
func Run(name string, run func(ctx context.Context) error) error {
	return svc.Run(name, &handler{run: run})
}

type handler struct {
	run func(ctx context.Context) error
}

func (h *handler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.run(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case err := <-done:
			status <- svc.Status{State: svc.StopPending}
			return exitCode(err)
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: uint32(StopWait / time.Millisecond)}
				cancel()
				select {
				case err := <-done:
					return exitCode(err)
				case <-time.After(StopWait):
					return true, 1 // the agent did not stop in time
				}
			}
		}
	}
}

// exitCode is the service's exit for run's result: a service-specific
// code 1 for an error (a failure: the recovery actions apply).
func exitCode(err error) (bool, uint32) {
	if err == nil || errors.Is(err, context.Canceled) {
		return false, 0
	}
	return true, 1
}

// stateName names a service state.
func stateName(s svc.State) string {
	switch s {
	case svc.Stopped:
		return "stopped"
	case svc.StartPending:
		return "start pending"
	case svc.StopPending:
		return "stop pending"
	case svc.Running:
		return "running"
	case svc.ContinuePending:
		return "continue pending"
	case svc.PausePending:
		return "pause pending"
	case svc.Paused:
		return "paused"
	}
	return fmt.Sprintf("state %d", s)
}
