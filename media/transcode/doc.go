// Package transcode turns one uploaded media file into what the player needs:
// it probes the file with ffprobe, rejects input a person must fix with a
// plain-language reason, and transcodes it with ffmpeg into an HLS ladder
// (H.264 + AAC), a faststart MP4 for download, a poster, a thumbnail sprite
// with its WebVTT track and a waveform for the timeline.
//
// The package knows nothing about clips, databases or object storage: paths
// in, files out. Callers own the paths; the package never builds a path from
// user input and refuses paths that ffmpeg could read as options.
//
// # Flow
//
//	p, err := ProbeFile(ctx, src)      // *Rejection: empty, not_media, truncated
//	err = Validate(p, DefaultLimits()) // *Rejection: too_long, too_large, too_small, ...
//	res, err := Transcode(ctx, src, outDir, p, Options{}, progress)
//
// # Output layout (relative to outDir)
//
//	master.m3u8            BANDWIDTH (peak segment rate), AVERAGE-BANDWIDTH,
//	                       RESOLUTION, FRAME-RATE, CODECS per variant
//	<rung>/index.m3u8      VOD media playlist, MPEG-TS segments <rung>/seg_NNNNN.ts
//	download.mp4           the top rendition remuxed, moov first
//	poster.jpg             video only: a frame a tenth into the clip
//	sprite.jpg, thumbs.vtt video only: thumbnails every 2 s (fewer on long
//	                       clips), cues "sprite.jpg#xywh=x,y,w,h"
//	waveform.json          audio only: audiowaveform JSON (version 2, 8 bits,
//	                       min/max pairs at 8 kHz), as read by peaks.js
//
// Renditions are never taller (short side) than the source; a source
// smaller than the lowest rung gets one rendition at its own size. Audio-only
// input gets one AAC rendition named "audio", the waveform and the MP4, and
// no poster or sprite. Portrait and rotated video is rotated by ffmpeg and
// sized by its short side (720p portrait is 720x1280). Variable frame rate
// is made constant (the source's rate snapped to 24/25/30 or their NTSC
// variants, halved above 45 fps), which also keeps the fixed GOP
// (fps x segment length, no scene-cut keyframes) aligned across renditions.
//
// # Chunked ladder
//
// A long source's ladder can be encoded in parts on several nodes
// (chunks.go, stitch.go):
//
//	kf, err := SourceKeyframes(ctx, src, p)            // packet headers only
//	lp, err := PlanLadder(p, kf, opt, ChunkOptions{})  // 60–120 s chunks
//	err = EncodeChunk(ctx, srcOrURL, dir_i, p, lp, i, opt) // each chunk, anywhere
//	err = EncodeAudio(ctx, srcOrURL, audioDir, p, opt)     // once per file
//	res, err := Stitch(ctx, dirs, audioDir, outDir, p, lp, opt)
//
// Chunk borders are segment boundaries (multiples of the fixed GOP) close
// after a source keyframe. Every chunk runs the same fps filter on the
// source's own timestamps (-copyts) and keeps them, so the chunks of a
// rung, read back to back, are one continuous stream: Stitch remuxes them
// with the audio (encoded once, so it has no seam) into the layout above,
// without #EXT-X-DISCONTINUITY. The tests probe the stitched output: every
// frame once with continuous timestamps, segments on the single encode's
// grid, A/V sync within a frame at every chunk border, and each frame
// matching the single encode's frame of the same number. Given an http(s)
// URL (a presigned object URL), EncodeChunk reads only the byte ranges of
// its chunk. Limits: video sources only (audio-only files have nothing to
// chunk); rate control restarts at each chunk border, so bit rate near a
// border can differ slightly from a single encode.
//
// # Processes and limits
//
// All ffmpeg and ffprobe command lines are built with
// github.com/u2takey/ffmpeg-go. One ffmpeg process decodes the input once
// and writes every rendition (split filter and var_stream_map), the sprite,
// the poster and the waveform samples (through a pipe); a second one remuxes
// the MP4. ffmpeg runs with -nostdin in its own process group under
// Options.Timeout and is killed, with any children, when the context ends;
// its error carries the tail of its stderr. On failure Transcode removes
// what it wrote (and outDir itself if it created it).
//
// Options.Threads bounds the threads of one job (default 2). On a 2-core
// worker one job with 2 threads has both lower latency and higher
// throughput than two concurrent 1-thread jobs (see scripts/benchmedia
// -cores), so run one transcode job per 2 cores.
//
// Input demuxers are restricted to an allowlist of audio/video containers
// (no playlists, no concat scripts, no image sequences) and to the file
// protocol, so a crafted upload cannot make ffmpeg read other files or the
// network. Output metadata is stripped (phones record GPS positions).
//
// Requires ffmpeg and ffprobe 5.1 or newer on PATH, built with libx264 (the
// Debian ffmpeg package); the tests also use libx265, libvpx-vp9, libopus
// and libmp3lame to make their input clips.
package transcode
