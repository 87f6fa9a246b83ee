// Package storage keeps filmroom's media objects: HLS renditions, posters,
// sprite sheets, captions and waveforms produced from an uploaded clip.
//
// One interface, Store, has two implementations that pass the same suite
// (storagetest.Exercise):
//
//   - NewLocal keeps objects as plain files under a root folder. It is the
//     embedded default: nothing to run but the binary.
//   - NewS3 keeps objects in an S3 bucket or any S3-compatible service
//     (MinIO, Ceph, R2...) through aws-sdk-go-v2, for deployments with many
//     nodes.
//
// Keys are slash-separated relative paths such as
// "clips/<id>/hls/720p/seg_001.ts". Both implementations enforce the same key
// rules (see ValidateKey) so that a key that works on a laptop also works on
// S3 and cannot escape the local root.
//
// Prefixes name folders: List and DeletePrefix with "clips/ab" (or
// "clips/ab/") see every key below "clips/ab/" and never "clips/abc/...",
// so deleting one clip can never touch another whose id shares a prefix.
//
// Limits: objects are written whole (no appends); the local store holds one
// open directory handle for its lifetime; presigned URLs exist only on S3
// (the local store returns ErrPresignUnsupported and the HTTP layer serves
// the bytes itself through Open, which supports http.ServeContent on both).
package storage
