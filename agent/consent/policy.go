package consent

import "context"

// Policy is the Asker for unattended mode: device settings allow sessions
// without anybody at the screen (servers). It never shows anything and
// answers Unattended, which callers must log as such.
type Policy struct{}

// Ask answers Unattended without asking anyone.
func (Policy) Ask(ctx context.Context, req Request) (Answer, error) {
	if _, err := req.normalize(); err != nil {
		return Declined, err
	}
	if err := ctx.Err(); err != nil {
		return Declined, err
	}
	return Unattended, nil
}
