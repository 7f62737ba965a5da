using PublishingPoint.Media.Hls;

namespace PublishingPoint.Media.Tests.Hls;

public sealed class MasterPlaylistWriterTests
{
    [Fact]
    public void WritesVariantsWithEveryAttributeAndTheAudioGroup()
    {
        var text = MasterPlaylistWriter.Write(new MasterPlaylist
        {
            Version = 6,
            Audio = [new HlsAudioRendition { GroupId = "audio", Name = "main", Language = "und", IsDefault = true, Channels = 2, Uri = "hls/audio-64000-fmp4.m3u8" }],
            Variants =
            [
                new HlsVariant
                {
                    Bandwidth = 420000, AverageBandwidth = 380000, Codecs = "avc1.64000d,mp4a.40.2", Width = 320, Height = 180,
                    FrameRate = 25, AudioGroup = "audio", Uri = "hls/video-300000-fmp4.m3u8",
                },
            ],
        });

        Assert.Equal(
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n"
            + "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"main\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"hls/audio-64000-fmp4.m3u8\"\n"
            + "#EXT-X-STREAM-INF:BANDWIDTH=420000,AVERAGE-BANDWIDTH=380000,CODECS=\"avc1.64000d,mp4a.40.2\",RESOLUTION=320x180,FRAME-RATE=25.000,AUDIO=\"audio\"\n"
            + "hls/video-300000-fmp4.m3u8\n",
            text);
    }

    [Fact]
    public void MuxedVariantHasNoAudioGroup()
    {
        var text = MasterPlaylistWriter.Write(new MasterPlaylist
        {
            Variants = [new HlsVariant { Bandwidth = 1, Codecs = "avc1.42c01e,mp4a.40.2", Uri = "a.m3u8" }],
        });

        Assert.DoesNotContain("AUDIO=", text, StringComparison.Ordinal);
        Assert.DoesNotContain("EXT-X-MEDIA:", text, StringComparison.Ordinal);
        Assert.DoesNotContain("RESOLUTION", text, StringComparison.Ordinal);
    }
}
