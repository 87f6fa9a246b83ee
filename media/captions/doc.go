// Package captions turns a clip's audio into a word-level transcript and
// readable WebVTT captions, and validates caption files that people upload.
//
// It owns four things:
//
//   - Speech engines behind one small interface, [Engine]: the Debian
//     pocketsphinx CLI (offline default), whisper.cpp's whisper-cli, AWS
//     Transcribe, and "none". [New] picks one from a [Config]. Engines run
//     external processes with a deadline per process and a fixed number of
//     workers; a missing binary, a crash or a hang each give a distinct,
//     wrapped error ([ErrEngineNotFound], [ErrEngineFailed],
//     [ErrEngineTimeout]).
//   - Audio preparation: [ExtractAudio] normalizes any media file to the
//     16 kHz mono 16-bit WAV every engine reads. The pocketsphinx engine
//     splits that WAV at pauses while streaming it (memory stays bounded by one
//     segment, whatever the length of the lesson) and recognizes segments in
//     parallel, then shifts and merges the word times.
//   - Parts for parallel captioning: [SplitAudio] cuts a long WAV at pauses
//     (ffmpeg silencedetect, else the quietest stretch) into [Chunk] files
//     of about a target length that tile the audio exactly; the media job
//     captions each on any worker, [Chunk.Place] puts its words back on the
//     clip's timeline and [MergeChunks] joins the parts finished so far.
//   - Caption layout: [BuildCues] groups words into cues a viewer can read (at
//     most two lines of 42 characters, 1–7 s, split at pauses and sentence
//     ends, never faster than the reading speed unless speech leaves no room);
//     [CheckCues] states those rules as code and reports violations.
//   - Caption files: [ParseVTT], [ParseSRT], [WriteVTT], [WriteSRT], [Lint]
//     and [Normalize] for uploaded tracks (size limit first, then validation
//     errors that name the line), and the [Transcript] JSON kept for search
//     and click-to-seek.
//
// The package holds no database code and no HTTP handlers: the media job
// calls [ExtractAudio], an [Engine], [BuildCues] and [WriteVTT], and stores
// the bytes and the transcript JSON wherever it keeps objects.
//
// Limits: pocketsphinx only ships an English model in Debian, so it refuses
// other languages unless a model is configured; timings from pocketsphinx are
// good to about a tenth of a second, which is enough for click-to-seek.
package captions
