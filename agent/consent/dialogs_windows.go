package consent

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Dialogs shows the consent question, the session indicator, the request
// form and outcome notices as Windows dialogs on the desktop of the user
// this process runs as: the same texts and window titles as Zenity, so the
// same tests and end-to-end harnesses find and answer them.
//
// Every dialog runs on a UI thread of its own (win32_windows.go) and is
// gone when the call that showed it returns (or, for the indicator, when
// stop returns); a Dialogs holds nothing but its logger, so any number may
// serve at once (one per user session's helper process).
type Dialogs struct {
	log *slog.Logger
}

var (
	_ Asker     = (*Dialogs)(nil)
	_ Indicator = (*Dialogs)(nil)
)

// NewDialogs checks that this process can show dialogs the user sees: the
// user32 calls exist and the process runs on the interactive window station
// (a service in session 0 does not; ErrNoDisplay).
func NewDialogs(log *slog.Logger) (*Dialogs, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := loadProcs(); err != nil {
		return nil, fmt.Errorf("windows dialogs: %w: %w", ErrDialog, err)
	}
	if err := interactive(); err != nil {
		return nil, fmt.Errorf("windows dialogs: %w: %w", ErrNoDisplay, err)
	}
	return &Dialogs{log: log.With("component", "consent")}, nil
}

// Ask shows a topmost Yes/No message box; No is the default button, so a
// stray Enter declines. It returns Allowed on Yes, Declined on No,
// TimedOut when the user does not answer within req.Timeout, and ctx.Err()
// when ctx ends; in both of the last the box is closed before Ask returns.
// An answer that races the timeout counts as the timeout.
func (d *Dialogs) Ask(ctx context.Context, req Request) (Answer, error) {
	req, err := req.normalize()
	if err != nil {
		return Declined, err
	}
	if err := ctx.Err(); err != nil {
		return Declined, err
	}
	box := newMessageBox(DialogTitle, req.Question(),
		mbYesNo|mbDefButton2|mbIconQuestion|mbTopmost|mbSetForeground, idNo)
	start := time.Now()
	box.start()
	why := await(ctx, box, req.Timeout)
	d.log.Debug("consent_dialog_closed", "button", box.id, "end", why, "elapsed", time.Since(start))
	switch {
	case why == cancelled:
		return Declined, ctx.Err()
	case why == timedOut:
		return TimedOut, nil
	case box.err != nil:
		return Declined, fmt.Errorf("consent dialog: %w: %w", ErrDialog, box.err)
	case box.id == idYes:
		return Allowed, nil
	}
	return Declined, nil
}

// Show opens the session indicator: a small window at the bottom right of
// the screen, on top of the others, that does not take the keyboard focus
// from what the user (or the remote supporter) is typing into. It shows
// req.Notice() and a Done button. done is closed when the user presses Done
// or closes the window, or the window fails. The session shows it again to
// change the text (a new deadline, the countdown): stop, then Show.
func (d *Dialogs) Show(ctx context.Context, req Request) (<-chan struct{}, func(), error) {
	req, err := req.normalize()
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	w := indicatorWindow(req.Notice())
	if err := w.start(); err != nil {
		return nil, nil, fmt.Errorf("session indicator: %w: %w", ErrDialog, err)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-w.gone():
		case <-ctx.Done():
			remove(w)
			return
		case <-stopped:
			remove(w)
			return
		}
		if w.result == wmDismiss {
			return // stop raced the user; the session is ending anyway
		}
		if w.err != nil {
			d.log.Warn("session_indicator_failed", "err", w.err)
		}
		close(done)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			close(stopped)
			<-watched
		})
	}
	return done, stop, nil
}

// Form asks the end user to fill in fields (one line each, in order, under
// text) and returns the answers in order. Cancel, Escape or closing the
// window is ErrCancelled; no answer within timeout (none if not positive)
// is ErrCancelled too; ctx ending returns ctx.Err(). The form is gone when
// Form returns.
//
// Its keys are zenity's, so consenttest.FillForm fills both: Tab moves from
// field to field, then to Cancel, then to OK; Escape cancels. (Enter in a
// field also submits, as in any Windows dialog.)
func (d *Dialogs) Form(ctx context.Context, text string, fields []string, timeout time.Duration) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := formWindow(text, fields)
	if err := w.start(); err != nil {
		return nil, fmt.Errorf("request form: %w: %w", ErrDialog, err)
	}
	why := await(ctx, w, timeout)
	d.log.Debug("request_form_closed", "result", w.result, "end", why)
	switch {
	case why == cancelled:
		return nil, ctx.Err()
	case why == timedOut:
		return nil, ErrCancelled
	case w.err != nil:
		return nil, fmt.Errorf("request form: %w: %w", ErrDialog, w.err)
	case w.result != idOK:
		return nil, ErrCancelled
	}
	return w.values, nil
}

// Info shows a message with an OK button, on top of the other windows, and
// returns when the end user closes it, timeout (none if not positive)
// passes or ctx ends; the message is gone when Info returns.
func (d *Dialogs) Info(ctx context.Context, text string, timeout time.Duration) error {
	if ctx.Err() != nil {
		return nil
	}
	box := newMessageBox(OutcomeTitle, text, mbOK|mbIconInformation|mbTopmost|mbSetForeground, idOK)
	box.start()
	if why := await(ctx, box, timeout); why == answered && box.err != nil {
		return fmt.Errorf("message dialog: %w: %w", ErrDialog, box.err)
	}
	return nil
}

// Layout of the indicator and the form, in dialog units.
const (
	margin       = 7
	gap          = 4
	lineHeight   = 8
	buttonWidth  = 50
	buttonHeight = 14
	editHeight   = 14

	indicatorWidth = 200
	formWidth      = 260
	labelWidth     = 90
)

// Control ids besides IDOK and IDCANCEL.
const (
	idText      = 100
	idFirstEdit = 1000
	idStatic    = 0xFFFF
)

// indicatorWindow is the session indicator: notice and a Done button.
func indicatorWindow(notice string) *window {
	textW := int16(indicatorWidth - 2*margin)
	textH := int16(textLines(notice, int(textW)) * lineHeight)
	buttonY := margin + textH + margin
	items := []item{
		{class: atomStatic, style: ssLeft | ssNoPrefix | ssEditControl, x: margin, y: margin, w: textW, h: textH, id: idText, text: crlf(notice)},
		{class: atomButton, style: bsDefPushButton | wsTabStop, x: indicatorWidth - margin - buttonWidth, y: buttonY, w: buttonWidth, h: buttonHeight, id: idOK, text: "Done"},
	}
	return &window{
		tmpl: dialogTemplate(IndicatorTitle, 0, wsExTopmost|wsExAppWindow, indicatorWidth, buttonY+buttonHeight+margin, items),
		show: swShowNoActivate,
		init: bottomRight,
	}
}

// formWindow is the request form: text, a label and a one-line edit per
// field, and Cancel and OK (OK last in the tab order, as in zenity).
func formWindow(text string, fields []string) *window {
	textW := int16(formWidth - 2*margin)
	textH := int16(textLines(text, int(textW)) * lineHeight)
	items := []item{{class: atomStatic, style: ssLeft | ssNoPrefix | ssEditControl, x: margin, y: margin, w: textW, h: textH, id: idText, text: crlf(text)}}
	y := margin + textH + margin
	editX := int16(margin + labelWidth + gap)
	var edits []uint16
	for i, f := range fields {
		labelH := int16(textLines(f, labelWidth) * lineHeight)
		id := uint16(idFirstEdit + i)
		edits = append(edits, id)
		items = append(items,
			item{class: atomStatic, style: ssLeft | ssNoPrefix | ssEditControl, x: margin, y: y + 3, w: labelWidth, h: labelH, id: idStatic, text: f},
			item{class: atomEdit, style: wsBorder | wsTabStop | esAutoHScroll, x: editX, y: y, w: formWidth - margin - editX, h: editHeight, id: id})
		y += max(editHeight, labelH+3) + gap
	}
	y += margin - gap
	items = append(items,
		item{class: atomButton, style: bsPushButton | wsTabStop, x: formWidth - margin - 2*buttonWidth - gap, y: y, w: buttonWidth, h: buttonHeight, id: idCancel, text: "Cancel"},
		item{class: atomButton, style: bsDefPushButton | wsTabStop, x: formWidth - margin - buttonWidth, y: y, w: buttonWidth, h: buttonHeight, id: idOK, text: "OK"})
	return &window{
		tmpl:  dialogTemplate(FormTitle, dsCenter|dsSetForeground, wsExTopmost|wsExAppWindow, formWidth, y+buttonHeight+margin, items),
		show:  swShow,
		focus: true,
		edits: edits,
	}
}
