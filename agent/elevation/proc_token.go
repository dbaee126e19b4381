package elevation

import (
	"errors"
	"slices"

	"porthole/agent/winlocal"
)

// tokens is what the Windows recorder calls: the process list
// (NtQuerySystemInformation), each new process's token and, for elevated
// ones of a watched user, its image path and command line.
type tokens interface {
	Processes() ([]winlocal.Process, error)
	Token(p winlocal.Process) (winlocal.Token, error)
	Detail(p winlocal.Process) (winlocal.Detail, error)
}

// tokenSource finds the processes whose token user is a watched SID and
// whose token is elevated (TokenElevation). A token's user and elevation
// never change, so each process's token is read once, when it is first
// listed, and remembered by PID and creation time until it exits; its
// image and command line are read once, when it is first found elevated.
type tokenSource struct {
	api tokens
	// known is what each listed process's token said. Only the recorder's
	// poll uses it, under the recorder's lock.
	known map[procKey]*tokenVerdict
}

type tokenVerdict struct {
	// sid is the token user, "" when the token could not be read
	// (protected processes, which never run as an interactive user).
	sid      string
	elevated bool
	detail   *winlocal.Detail // read at the first sighting
}

func newTokenSource(api tokens) *tokenSource {
	return &tokenSource{api: api, known: map[procKey]*tokenVerdict{}}
}

func (s *tokenSource) elevated(watched map[string]bool) ([]sighting, error) {
	list, err := s.api.Processes()
	if err != nil {
		return nil, err
	}
	slices.SortFunc(list, func(a, b winlocal.Process) int { return int(a.PID) - int(b.PID) })
	alive := make(map[procKey]bool, len(list))
	var out []sighting
	for _, p := range list {
		key := procKey{pid: int(p.PID), start: uint64(p.Created)}
		v := s.known[key]
		if v == nil {
			t, err := s.api.Token(p)
			if errors.Is(err, winlocal.ErrGone) {
				continue
			}
			v = &tokenVerdict{sid: t.User, elevated: t.Elevated && err == nil}
			s.known[key] = v
		}
		alive[key] = true
		if !v.elevated || v.sid == "" || !watched[v.sid] {
			continue
		}
		if v.detail == nil {
			d, err := s.api.Detail(p)
			if errors.Is(err, winlocal.ErrGone) {
				continue
			}
			if err != nil {
				d = winlocal.Detail{Path: p.Image} // the list's base name at least
			}
			v.detail = &d
		}
		out = append(out, sighting{owner: v.sid, key: key, proc: Process{
			PID: int(p.PID), PPID: int(p.PPID), UID: -1, EUID: -1, LoginUID: -1, SID: v.sid,
			Exe: v.detail.Path, Args: slices.Clone(v.detail.Args), StartedAt: winlocal.FiletimeToTime(p.Created),
		}})
	}
	for k := range s.known {
		if !alive[k] {
			delete(s.known, k)
		}
	}
	return out, nil
}
