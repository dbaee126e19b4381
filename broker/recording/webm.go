package recording

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// The WebM muxer is written here rather than taken from ebml-go's
// webm.NewSimpleBlockWriter: that writer runs its own goroutines, panics on a
// write error unless told otherwise, blocks forever on the next Write after a
// failed one, and cannot patch sizes, Duration or Cues in place. Recording
// needs the opposite: synchronous writes whose errors come back to the caller,
// one write(2) per frame so a crash loses at most the frame in flight, and a
// finalisation step that turns the live file into a seekable one. The tests
// parse the output with ebml-go and decode it with ffmpeg.
//
// Layout of one segment file:
//
//	EBML header
//	Segment (size unknown while live, patched on finish)
//	  Void (reserved; replaced by a SeekHead → Info, Tracks, Cues on finish)
//	  Info: TimecodeScale 1 ms, MuxingApp, WritingApp, DateUTC,
//	        Void (replaced by Duration on finish)
//	  Tracks: one VP8 video track with the keyframe's width and height
//	  Cluster (size unknown while live, patched when the next one starts)
//	    Timecode, SimpleBlock…
//	  …
//	  Cues (appended on finish: one point per cluster that opens on a keyframe)
//
// A file cut short by a crash is a valid live WebM (unknown-size segment
// and last cluster, no Duration, no Cues) that ffmpeg reads to its last
// whole frame.

// EBML element IDs (marker bits included).
var (
	idEBML               = []byte{0x1A, 0x45, 0xDF, 0xA3}
	idEBMLVersion        = []byte{0x42, 0x86}
	idEBMLReadVersion    = []byte{0x42, 0xF7}
	idEBMLMaxIDLength    = []byte{0x42, 0xF2}
	idEBMLMaxSizeLength  = []byte{0x42, 0xF3}
	idDocType            = []byte{0x42, 0x82}
	idDocTypeVersion     = []byte{0x42, 0x87}
	idDocTypeReadVersion = []byte{0x42, 0x85}
	idSegment            = []byte{0x18, 0x53, 0x80, 0x67}
	idSeekHead           = []byte{0x11, 0x4D, 0x9B, 0x74}
	idSeek               = []byte{0x4D, 0xBB}
	idSeekID             = []byte{0x53, 0xAB}
	idSeekPosition       = []byte{0x53, 0xAC}
	idInfo               = []byte{0x15, 0x49, 0xA9, 0x66}
	idTimecodeScale      = []byte{0x2A, 0xD7, 0xB1}
	idMuxingApp          = []byte{0x4D, 0x80}
	idWritingApp         = []byte{0x57, 0x41}
	idDuration           = []byte{0x44, 0x89}
	idDateUTC            = []byte{0x44, 0x61}
	idTracks             = []byte{0x16, 0x54, 0xAE, 0x6B}
	idTrackEntry         = []byte{0xAE}
	idTrackNumber        = []byte{0xD7}
	idTrackUID           = []byte{0x73, 0xC5}
	idTrackType          = []byte{0x83}
	idFlagLacing         = []byte{0x9C}
	idCodecID            = []byte{0x86}
	idVideo              = []byte{0xE0}
	idPixelWidth         = []byte{0xB0}
	idPixelHeight        = []byte{0xBA}
	idCluster            = []byte{0x1F, 0x43, 0xB6, 0x75}
	idTimecode           = []byte{0xE7}
	idSimpleBlock        = []byte{0xA3}
	idCues               = []byte{0x1C, 0x53, 0xBB, 0x6B}
	idCuePoint           = []byte{0xBB}
	idCueTime            = []byte{0xB3}
	idCueTrackPositions  = []byte{0xB7}
	idCueTrack           = []byte{0xF7}
	idCueClusterPosition = []byte{0xF1}
	idVoid               = []byte{0xEC}
)

const (
	seekHeadReserve = 96 // bytes kept for the SeekHead (3 entries need 68)
	durationSize    = 11 // Duration element: 2-byte ID, 1-byte size, float64
	// maxClusterSpan keeps SimpleBlock timecodes (int16, relative to the
	// cluster) in range; a cluster normally ends at the next keyframe.
	maxClusterSpan = 30_000
	muxingApp      = "porthole"
)

// unknownSize is the 8-byte EBML size meaning "unknown" (live streams).
var unknownSize = []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}

// ebmlEpoch is the origin of EBML dates.
var ebmlEpoch = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// appendSize appends n as a minimal EBML variable-size integer.
func appendSize(b []byte, n uint64) []byte {
	for l := 1; l <= 8; l++ {
		if n < 1<<(7*l)-1 { // the all-ones value of each length means "unknown"
			v := n | 1<<(7*l)
			for i := l - 1; i >= 0; i-- {
				b = append(b, byte(v>>(8*i)))
			}
			return b
		}
	}
	return append(b, unknownSize...) // unreachable for sizes we write
}

// size8 is n as an 8-byte EBML size, for sizes patched in place.
func size8(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n|1<<56)
	return b[:]
}

func appendElem(b, id, payload []byte) []byte {
	b = append(b, id...)
	b = appendSize(b, uint64(len(payload)))
	return append(b, payload...)
}

func appendUint(b, id []byte, v uint64) []byte {
	n := 1
	for n < 8 && v>>(8*n) != 0 {
		n++
	}
	var p [8]byte
	binary.BigEndian.PutUint64(p[:], v)
	return appendElem(b, id, p[8-n:])
}

// appendUint8 writes v in 8 bytes, so that its encoded size is fixed.
func appendUint8(b, id []byte, v uint64) []byte {
	var p [8]byte
	binary.BigEndian.PutUint64(p[:], v)
	return appendElem(b, id, p[:])
}

func appendFloat(b, id []byte, v float64) []byte {
	var p [8]byte
	binary.BigEndian.PutUint64(p[:], math.Float64bits(v))
	return appendElem(b, id, p[:])
}

// appendVoid appends a Void element of exactly n bytes (n >= 2).
func appendVoid(b []byte, n int) []byte {
	if n-2 < 127 {
		b = append(b, idVoid[0], byte(0x80|(n-2)))
		return append(b, make([]byte, n-2)...)
	}
	b = append(b, idVoid[0])
	b = append(b, size8(uint64(n-9))...)
	return append(b, make([]byte, n-9)...)
}

type cuePoint struct{ time, pos uint64 }

// webmWriter writes one WebM file with one VP8 track. It is not safe for
// concurrent use (the recorder's goroutine owns it).
type webmWriter struct {
	f    file
	off  int64 // end of the good data: a failed write is truncated back to it
	room func(n int) error

	segData     int64 // offset of the Segment's payload
	seekPos     int64 // reserved SeekHead Void
	infoPos     int64
	durationPos int64 // reserved Duration Void
	tracksPos   int64

	clusterPos int64 // -1 before the first cluster
	clusterTs  int64
	cues       []cuePoint
	lastTs     int64
	frames     int
	buf        []byte
}

// newWebM writes the header of a live file. room is asked before every write
// whether n more bytes may be written (the recording's byte budget).
func newWebM(f file, width, height int, created time.Time, room func(int) error) (*webmWriter, error) {
	m := &webmWriter{f: f, room: room, clusterPos: -1}
	var h []byte
	var eh []byte
	eh = appendUint(eh, idEBMLVersion, 1)
	eh = appendUint(eh, idEBMLReadVersion, 1)
	eh = appendUint(eh, idEBMLMaxIDLength, 4)
	eh = appendUint(eh, idEBMLMaxSizeLength, 8)
	eh = appendElem(eh, idDocType, []byte("webm"))
	eh = appendUint(eh, idDocTypeVersion, 4)
	eh = appendUint(eh, idDocTypeReadVersion, 2)
	h = appendElem(h, idEBML, eh)

	h = append(h, idSegment...)
	h = append(h, unknownSize...)
	m.segData = int64(len(h))

	m.seekPos = int64(len(h))
	h = appendVoid(h, seekHeadReserve)

	m.infoPos = int64(len(h))
	var info []byte
	info = appendUint(info, idTimecodeScale, 1_000_000) // 1 ms
	info = appendElem(info, idMuxingApp, []byte(muxingApp))
	info = appendElem(info, idWritingApp, []byte(muxingApp))
	var date [8]byte
	binary.BigEndian.PutUint64(date[:], uint64(created.Sub(ebmlEpoch).Nanoseconds()))
	info = appendElem(info, idDateUTC, date[:])
	durOff := len(info)
	info = appendVoid(info, durationSize)
	h = append(h, idInfo...)
	h = appendSize(h, uint64(len(info)))
	m.durationPos = int64(len(h) + durOff)
	h = append(h, info...)

	m.tracksPos = int64(len(h))
	var video []byte
	video = appendUint(video, idPixelWidth, uint64(width))
	video = appendUint(video, idPixelHeight, uint64(height))
	var te []byte
	te = appendUint(te, idTrackNumber, 1)
	te = appendUint(te, idTrackUID, 1)
	te = appendUint(te, idTrackType, 1) // video
	te = appendUint(te, idFlagLacing, 0)
	te = appendElem(te, idCodecID, []byte("V_VP8"))
	te = appendElem(te, idVideo, video)
	h = appendElem(h, idTracks, appendElem(nil, idTrackEntry, te))

	if err := m.write(h); err != nil {
		return nil, err
	}
	return m, nil
}

// write appends p at the end of the file in one call. On failure the file is
// cut back to the last good byte (best effort) so it stays well formed.
func (m *webmWriter) write(p []byte) error {
	if err := m.room(len(p)); err != nil {
		return err
	}
	n, err := m.f.Write(p)
	if err != nil {
		if n > 0 {
			_ = m.f.Truncate(m.off)
		}
		return err
	}
	m.off += int64(n)
	return nil
}

// writeFrame appends one frame at ts milliseconds from the start of the file.
// Timestamps must increase. A keyframe starts a new cluster, so every cluster
// the Cues point to can be decoded on its own.
func (m *webmWriter) writeFrame(ts int64, key bool, frame []byte) error {
	b := m.buf[:0]
	startCluster := m.clusterPos < 0 || key || ts-m.clusterTs > maxClusterSpan
	var clusterPos int64
	if startCluster {
		if m.clusterPos >= 0 {
			if err := m.closeCluster(); err != nil {
				return err
			}
		}
		clusterPos = m.off
		b = append(b, idCluster...)
		b = append(b, unknownSize...)
		b = appendUint8(b, idTimecode, uint64(ts))
	}
	b = append(b, idSimpleBlock...)
	b = appendSize(b, uint64(4+len(frame)))
	var flags byte
	if key {
		flags = 0x80
	}
	clusterTs := m.clusterTs
	if startCluster {
		clusterTs = ts
	}
	rel := ts - clusterTs
	b = append(b, 0x81, byte(uint16(rel)>>8), byte(rel), flags)
	b = append(b, frame...)
	m.buf = b
	if err := m.write(b); err != nil {
		return err
	}
	if startCluster {
		m.clusterPos, m.clusterTs = clusterPos, ts
		// Only the header (patched on finish) and this cluster's size
		// (patched when the next one starts) can still change.
		if st, ok := m.f.(Settler); ok {
			st.Settled(clusterPos)
		}
		if key {
			m.cues = append(m.cues, cuePoint{time: uint64(ts), pos: uint64(clusterPos - m.segData)})
		}
	}
	m.lastTs = ts
	m.frames++
	return nil
}

// closeCluster patches the open cluster's size, now that it is known.
func (m *webmWriter) closeCluster() error {
	size := m.off - m.clusterPos - int64(len(idCluster)) - 8
	if _, err := m.f.WriteAt(size8(uint64(size)), m.clusterPos+int64(len(idCluster))); err != nil {
		return fmt.Errorf("patch cluster size: %w", err)
	}
	return nil
}

// finish turns the live file into a seekable one: last cluster size, Cues,
// SeekHead, Duration (ms) and Segment size. Every step only overwrites
// reserved bytes except the Cues, which are skipped if they cannot be
// appended (a full disk): the file stays playable, only less seekable.
// finish does not close the file.
func (m *webmWriter) finish(duration int64) error {
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if m.clusterPos >= 0 {
		keep(m.closeCluster())
	}
	var cuesPos int64 = -1
	if len(m.cues) > 0 {
		var cues []byte
		for _, c := range m.cues {
			var pos []byte
			pos = appendUint(pos, idCueTrack, 1)
			pos = appendUint(pos, idCueClusterPosition, c.pos)
			var pt []byte
			pt = appendUint(pt, idCueTime, c.time)
			pt = appendElem(pt, idCueTrackPositions, pos)
			cues = appendElem(cues, idCuePoint, pt)
		}
		at := m.off
		n, err := m.f.Write(appendElem(nil, idCues, cues))
		if err != nil {
			if n > 0 {
				_ = m.f.Truncate(m.off)
			}
			// Not fatal: the file plays without Cues. The caller already
			// knows about a full disk from the frame that failed.
		} else {
			m.off += int64(n)
			cuesPos = at
		}
	}
	var seeks []byte
	for _, s := range []struct {
		id  []byte
		pos int64
	}{{idInfo, m.infoPos}, {idTracks, m.tracksPos}, {idCues, cuesPos}} {
		if s.pos < 0 {
			continue
		}
		var e []byte
		e = appendElem(e, idSeekID, s.id)
		e = appendUint8(e, idSeekPosition, uint64(s.pos-m.segData))
		seeks = appendElem(seeks, idSeek, e)
	}
	sh := appendElem(nil, idSeekHead, seeks)
	sh = appendVoid(sh, seekHeadReserve-len(sh))
	_, err := m.f.WriteAt(sh, m.seekPos)
	keep(err)
	_, err = m.f.WriteAt(appendFloat(nil, idDuration, float64(duration)), m.durationPos)
	keep(err)
	_, err = m.f.WriteAt(size8(uint64(m.off-m.segData)), m.segData-8)
	keep(err)
	keep(m.f.Sync())
	if firstErr != nil {
		return fmt.Errorf("finish webm: %w", firstErr)
	}
	return nil
}
