using System.Buffers.Binary;
using System.Globalization;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>
/// The TS master's audio-only variant (Apple's cellular fallback) is packed audio: ADTS frames behind an ID3 tag with
/// the transport stream timestamp. ffprobe reads the playlist as AAC of the whole length.
/// </summary>
public sealed class PackedAudioTests
{
    private const string Point = "live/packed.isml";
    private const int Seconds = 8;

    [Fact]
    public async Task TsMasterEndsWithAPackedAudioVariant_ThatPlaysTheWholeAudio()
    {
        await using var server = await RunningServer.StartAsync();
        var push = await Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { Seconds = Seconds, RealTime = false });
        Assert.True(push.ExitCode == 0, Tool.Describe(push));

        string master = "";
        await Eventually.WaitUntilAsync(async () => (master = await server.Http.GetStringAsync($"{Point}/master.m3u8")).Contains("mp4a", StringComparison.Ordinal),
            "no TS master", poll: TimeSpan.FromMilliseconds(200));
        var variants = HlsText.AttributeLines(master, "#EXT-X-STREAM-INF");
        var audioOnly = variants[^1];
        Assert.False(audioOnly.Attributes.ContainsKey("RESOLUTION"));
        Assert.StartsWith("mp4a.40.", audioOnly.Attributes["CODECS"], StringComparison.Ordinal);
        var playlist = "";
        await Eventually.WaitUntilAsync(async () => (playlist = await server.Http.GetStringAsync($"{Point}/{audioOnly.Uri}")).Contains("#EXT-X-ENDLIST", StringComparison.Ordinal),
            "the audio playlist never ended", poll: TimeSpan.FromMilliseconds(200));
        var segments = HlsText.Segments(playlist);
        Assert.All(segments, s => Assert.EndsWith(".aac", s.Uri, StringComparison.Ordinal));

        // ID3v2.4 with the PRIV timestamp of the first frame (the outputs' 10 s lift on the 90 kHz clock), then ADTS.
        using var first = await server.Http.GetAsync($"{Point}/hls/{segments[0].Uri}");
        Assert.Equal("audio/aac", first.Content.Headers.ContentType!.MediaType);
        var bytes = await first.Content.ReadAsByteArrayAsync();
        Assert.Equal("ID3"u8.ToArray(), bytes[..3]);
        var owner = "com.apple.streaming.transportStreamTimestamp\0"u8.ToArray();
        Assert.Equal(owner, bytes.AsSpan(20, owner.Length).ToArray());
        var pts = BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(20 + owner.Length));
        Assert.InRange((long)pts, 10 * 90_000 - 3_000, 10 * 90_000 + 3_000); // AAC priming puts the first frame a little before 0
        Assert.Equal(0xFF, bytes[20 + owner.Length + 8]);

        var probe = await Tool.ProbeAsync(server.Url($"{Point}/{audioOnly.Uri}").ToString(), "-show_entries", "stream=codec_name:format=duration", "-of", "default=nw=1");
        Assert.Contains("codec_name=aac", probe, StringComparison.Ordinal);
        var duration = double.Parse(probe.Split('\n').First(l => l.StartsWith("duration=", StringComparison.Ordinal))["duration=".Length..], CultureInfo.InvariantCulture);
        Assert.InRange(duration, Seconds - 0.5, Seconds + 0.5);
    }
}
