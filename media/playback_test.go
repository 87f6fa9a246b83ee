package media

import "testing"

// TestStartAtBeginning: a source rendition still being packaged (an EVENT
// playlist) tells players to start at 0, not near its live end; other
// playlists are served as stored.
func TestStartAtBeginning(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"event", "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:4.0,\nseg_00000.ts\n",
			"#EXTM3U\n#EXT-X-START:TIME-OFFSET=0,PRECISE=YES\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:4.0,\nseg_00000.ts\n"},
		{"event ended", "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:4.0,\nseg_00000.ts\n#EXT-X-ENDLIST\n",
			"#EXTM3U\n#EXT-X-START:TIME-OFFSET=0,PRECISE=YES\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:4.0,\nseg_00000.ts\n#EXT-X-ENDLIST\n"},
		{"vod", "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:4.0,\nseg_00000.ts\n#EXT-X-ENDLIST\n",
			"#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:4.0,\nseg_00000.ts\n#EXT-X-ENDLIST\n"},
		{"has a start", "#EXTM3U\n#EXT-X-START:TIME-OFFSET=10\n#EXT-X-PLAYLIST-TYPE:EVENT\n",
			"#EXTM3U\n#EXT-X-START:TIME-OFFSET=10\n#EXT-X-PLAYLIST-TYPE:EVENT\n"},
		{"not a playlist", "#EXT-X-PLAYLIST-TYPE:EVENT\n", "#EXT-X-PLAYLIST-TYPE:EVENT\n"},
		{"master", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nsource/index.m3u8\n", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nsource/index.m3u8\n"},
	} {
		if got := string(startAtBeginning([]byte(tc.in))); got != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
