package captions

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

// SampleRate is the rate every engine reads: 16 kHz is what pocketsphinx's
// and whisper's models were trained on.
const SampleRate = 16000

// ExtractAudio writes the first audio stream of in as 16 kHz mono 16-bit PCM
// WAV to out, whatever the input's rate or channel layout (8 kHz phone
// recordings, 96 kHz camera audio and 5.1 mixes are all normalized). A file
// without audio fails with [ErrNoAudio]. ffmpeg must be in PATH; the command
// line is built with ffmpeg-go and run under ctx.
func ExtractAudio(ctx context.Context, in, out string) error {
	args := ffmpeg.Input(in).Get("a:0").
		Output(out, ffmpeg.KwArgs{"acodec": "pcm_s16le", "ac": 1, "ar": SampleRate, "f": "wav", "vn": "", "sn": "", "dn": ""}).
		GlobalArgs("-nostdin", "-hide_banner", "-loglevel", "error").
		OverWriteOutput().GetArgs()
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	var stderr tailBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("extract audio from %s: %w", in, ctx.Err())
		}
		msg := stderr.String()
		if strings.Contains(msg, "matches no streams") {
			return fmt.Errorf("extract audio from %s: %w", in, ErrNoAudio)
		}
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("extract audio from %s: ffmpeg not installed: %w", in, err)
		}
		return fmt.Errorf("extract audio from %s: %w: %s", in, err, strings.TrimSpace(msg))
	}
	return nil
}

// wavInfo describes the PCM data of a WAV file.
type wavInfo struct {
	SampleRate int
	Channels   int
	Bits       int
	// DataSize is the byte length of the samples, -1 when the header does
	// not say (ffmpeg writing to a pipe); readers then read to the end.
	DataSize int64
}

// Duration is the audio length, or 0 when unknown.
func (w wavInfo) Duration() time.Duration {
	if w.DataSize < 0 {
		return 0
	}
	bytesPerSec := int64(w.SampleRate * w.Channels * w.Bits / 8)
	if bytesPerSec == 0 {
		return 0
	}
	return time.Duration(w.DataSize * int64(time.Second) / bytesPerSec)
}

// readWAVHeader reads RIFF chunks up to the start of the "data" chunk, so
// that r is then positioned at the first sample.
func readWAVHeader(r io.Reader) (wavInfo, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return wavInfo{}, fmt.Errorf("%w: short RIFF header: %v", ErrInvalidAudio, err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return wavInfo{}, fmt.Errorf("%w: not a RIFF/WAVE file", ErrInvalidAudio)
	}
	var info wavInfo
	haveFmt := false
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return wavInfo{}, fmt.Errorf("%w: no data chunk: %v", ErrInvalidAudio, err)
		}
		id := string(ch[0:4])
		size := int64(binary.LittleEndian.Uint32(ch[4:8]))
		switch id {
		case "fmt ":
			if size < 16 || size > 1024 {
				return wavInfo{}, fmt.Errorf("%w: bad fmt chunk size %d", ErrInvalidAudio, size)
			}
			buf := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, buf); err != nil {
				return wavInfo{}, fmt.Errorf("%w: short fmt chunk: %v", ErrInvalidAudio, err)
			}
			format := binary.LittleEndian.Uint16(buf[0:2])
			info.Channels = int(binary.LittleEndian.Uint16(buf[2:4]))
			info.SampleRate = int(binary.LittleEndian.Uint32(buf[4:8]))
			info.Bits = int(binary.LittleEndian.Uint16(buf[14:16]))
			// 1 is PCM; 0xFFFE (extensible) wraps PCM for >2 channels.
			if format != 1 && format != 0xFFFE {
				return wavInfo{}, fmt.Errorf("%w: WAV format %#x is not PCM", ErrInvalidAudio, format)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return wavInfo{}, fmt.Errorf("%w: data chunk before fmt chunk", ErrInvalidAudio)
			}
			info.DataSize = size
			if size == 0 || size == 0xFFFFFFFF {
				info.DataSize = -1
			}
			return info, nil
		default:
			if _, err := io.CopyN(io.Discard, r, size+size%2); err != nil {
				return wavInfo{}, fmt.Errorf("%w: short %q chunk: %v", ErrInvalidAudio, id, err)
			}
		}
	}
}

// openEngineWAV opens a WAV and checks it is what engines expect.
func openEngineWAV(path string) (*os.File, *bufio.Reader, wavInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, wavInfo{}, fmt.Errorf("open audio: %w", err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	info, err := readWAVHeader(br)
	if err != nil {
		f.Close()
		return nil, nil, wavInfo{}, fmt.Errorf("read %s: %w", path, err)
	}
	if info.SampleRate != SampleRate || info.Channels != 1 || info.Bits != 16 {
		f.Close()
		return nil, nil, wavInfo{}, fmt.Errorf("read %s: %w: %d Hz, %d channels, %d bits; want 16000 Hz mono 16-bit (use ExtractAudio)",
			path, ErrInvalidAudio, info.SampleRate, info.Channels, info.Bits)
	}
	return f, br, info, nil
}

// wavDuration returns the length of a 16 kHz mono WAV file.
func wavDuration(path string) (time.Duration, error) {
	f, _, info, err := openEngineWAV(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if info.DataSize >= 0 {
		return info.Duration(), nil
	}
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	return time.Duration(st.Size()) * time.Second / (SampleRate * 2), nil
}

// writeWAV writes 16 kHz mono 16-bit samples (little-endian bytes) as a WAV file.
func writeWAV(path string, pcm []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	hdr := wavHeader(len(pcm))
	if _, err := f.Write(hdr); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(pcm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

func wavHeader(dataLen int) []byte {
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+dataLen))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], SampleRate)
	binary.LittleEndian.PutUint32(h[28:], SampleRate*2)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(dataLen))
	return h
}
