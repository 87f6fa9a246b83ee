package transcode

import "encoding/json"

// probeWire is a Probe with the stream indexes and coded size it keeps
// unexported, so a job can hand a probe to another node (a chunk of the
// ladder) without that node probing the whole source again.
type probeWire struct {
	probeFields
	VideoIndex  int `json:"video_index"`
	AudioIndex  int `json:"audio_index"`
	CodedWidth  int `json:"coded_width"`
	CodedHeight int `json:"coded_height"`
}

// probeFields has Probe's fields without its methods, so that encoding it
// does not recurse into MarshalJSON.
type probeFields Probe

// MarshalJSON encodes every field, the unexported ones too.
func (p Probe) MarshalJSON() ([]byte, error) {
	return json.Marshal(probeWire{probeFields: probeFields(p), VideoIndex: p.videoIndex, AudioIndex: p.audioIndex,
		CodedWidth: p.codedWidth, CodedHeight: p.codedHeight})
}

// UnmarshalJSON is the inverse of MarshalJSON.
func (p *Probe) UnmarshalJSON(b []byte) error {
	var w probeWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = Probe(w.probeFields)
	p.videoIndex, p.audioIndex, p.codedWidth, p.codedHeight = w.VideoIndex, w.AudioIndex, w.CodedWidth, w.CodedHeight
	return nil
}
