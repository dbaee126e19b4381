package rtcnet

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// slogFactory routes pion's internal logging into the injected slog.Logger so that
// pion never writes to stderr on its own. Pion's trace and debug output both go to Debug.
type slogFactory struct{ log *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLeveled{log: f.log.With("pion", scope)}
}

type slogLeveled struct{ log *slog.Logger }

var _ logging.LeveledLogger = slogLeveled{}

func (l slogLeveled) emit(level slog.Level, msg string) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, "pion", "msg", msg)
	}
}

func (l slogLeveled) emitf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, "pion", "msg", fmt.Sprintf(format, args...))
	}
}

func (l slogLeveled) Trace(msg string)                  { l.emit(slog.LevelDebug-4, msg) }
func (l slogLeveled) Tracef(format string, args ...any) { l.emitf(slog.LevelDebug-4, format, args...) }
func (l slogLeveled) Debug(msg string)                  { l.emit(slog.LevelDebug, msg) }
func (l slogLeveled) Debugf(format string, args ...any) { l.emitf(slog.LevelDebug, format, args...) }
func (l slogLeveled) Info(msg string)                   { l.emit(slog.LevelInfo, msg) }
func (l slogLeveled) Infof(format string, args ...any)  { l.emitf(slog.LevelInfo, format, args...) }
func (l slogLeveled) Warn(msg string)                   { l.emit(slog.LevelWarn, msg) }
func (l slogLeveled) Warnf(format string, args ...any)  { l.emitf(slog.LevelWarn, format, args...) }
func (l slogLeveled) Error(msg string)                  { l.emit(slog.LevelError, msg) }
func (l slogLeveled) Errorf(format string, args ...any) { l.emitf(slog.LevelError, format, args...) }
