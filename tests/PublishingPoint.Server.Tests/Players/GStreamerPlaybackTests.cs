using System.Globalization;
using System.Text.RegularExpressions;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Players;

/// <summary>
/// GStreamer (Debian's gstreamer1.0 plugins) as the player: playbin pulls every output of a finished point through its
/// own demuxers (hlsdemux for both HLS masters, dashdemux, mssdemux), decodes video and audio, and reaches the end.
/// </summary>
public sealed partial class GStreamerPlaybackTests
{
    private const string Point = "live/gst.isml";
    private const int Seconds = 8;

    [Theory]
    [InlineData("master.m3u8")]
    [InlineData("master-fmp4.m3u8")]
    [InlineData("manifest.mpd")]
    [InlineData("Manifest")]
    public async Task PlaybinDecodesEveryOutputToTheEnd(string output)
    {
        await using var server = await RunningServer.StartAsync();
        var push = await Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { Seconds = Seconds, RealTime = false });
        Assert.True(push.ExitCode == 0, Tool.Describe(push));
        // Finished, not still live: a live MPD or playlist starts a player near its live edge, short of the first frames.
        await Security.IngestAuthenticationTests.WaitForStateAsync(server, Point, "vod");

        var result = await Tool.RunAsync("gst-launch-1.0",
        [
            "-v", "playbin", $"uri={server.Url($"{Point}/{output}")}",
            "video-sink=fakesink sync=false silent=false name=vs", "audio-sink=fakesink sync=false silent=false name=as",
        ], TimeSpan.FromSeconds(90));
        var log = result.StdOut + result.StdErr;
        var video = VideoBuffers().Count(log);
        var audio = AudioBuffers().Count(log);
        var describe = string.Create(CultureInfo.InvariantCulture, $"{output}: exit {result.ExitCode}, {video} video and {audio} audio buffers\n{Tail(log)}");
        Assert.True(result.ExitCode == 0 && log.Contains("Got EOS from element \"playbin0\"", StringComparison.Ordinal), describe);
        Assert.True(video >= Seconds * 25 * 95 / 100, describe); // 25 frames a second, decoded
        Assert.True(audio >= Seconds * 10, describe);
    }

    /// <summary>
    /// GStreamer as the encoder: x264enc and avenc_aac into ismlmux (Smooth Streaming fragments, no SMIL, so the bitrates
    /// go in the stream id), sent by curlhttpsink as one chunked POST; the point then plays in GStreamer's own HLS player.
    /// (souphttpclientsink, which sends successive PUTs, loses bytes between requests in GStreamer 1.22: not usable.)
    /// </summary>
    [Fact]
    public async Task IsmlmuxPushedWithCurlHttpSink_PlaysToTheEnd()
    {
        const string pushed = "live/gst-push.isml";
        await using var server = await RunningServer.StartAsync();
        var push = await Tool.RunAsync("gst-launch-1.0",
        [
            "-q", "videotestsrc", $"num-buffers={Seconds * 25}", "!", "video/x-raw,width=320,height=180,framerate=25/1", "!",
            "x264enc", "bitrate=400", "key-int-max=50", "!", "h264parse", "!", "ismlmux", "name=mux", "fragment-duration=2000", "streamable=true", "!",
            "curlhttpsink", $"location={server.Url($"{pushed}/Streams(gst-400k-64k)")}", "use-content-length=false", "content-type=video/mp4",
            "audiotestsrc", $"num-buffers={Seconds * 48_000 / 1024}", "samplesperbuffer=1024", "!", "audio/x-raw,rate=48000,channels=2", "!",
            "avenc_aac", "bitrate=64000", "!", "aacparse", "!", "mux.",
        ], TimeSpan.FromSeconds(90));
        Assert.True(push.ExitCode == 0, Tool.Describe(push));
        await Security.IngestAuthenticationTests.WaitForStateAsync(server, pushed, "vod");

        var manifest = System.Xml.Linq.XDocument.Parse(await server.Http.GetStringAsync($"{pushed}/Manifest"));
        Assert.Equal(["400000", "64000"], manifest.Descendants("QualityLevel").Select(q => (string)q.Attribute("Bitrate")!).Order(StringComparer.Ordinal));
        var result = await Tool.RunAsync("gst-launch-1.0",
        [
            "-v", "playbin", $"uri={server.Url($"{pushed}/master.m3u8")}",
            "video-sink=fakesink sync=false silent=false name=vs", "audio-sink=fakesink sync=false silent=false name=as",
        ], TimeSpan.FromSeconds(90));
        var log = result.StdOut + result.StdErr;
        var video = VideoBuffers().Count(log);
        var describe = string.Create(CultureInfo.InvariantCulture, $"exit {result.ExitCode}, {video} video and {AudioBuffers().Count(log)} audio buffers\n{Tail(log)}");
        Assert.True(result.ExitCode == 0 && log.Contains("Got EOS from element \"playbin0\"", StringComparison.Ordinal), describe);
        Assert.True(video >= Seconds * 25 * 90 / 100, describe);
        Assert.True(AudioBuffers().Count(log) >= Seconds * 10, describe);
    }

    private static string Tail(string log) => string.Join('\n', log.Split('\n').Where(l => !l.Contains("last-message", StringComparison.Ordinal)).TakeLast(30));

    [GeneratedRegex(@"last-message = chain .*\(vs:sink\)")]
    private static partial Regex VideoBuffers();

    [GeneratedRegex(@"last-message = chain .*\(as:sink\)")]
    private static partial Regex AudioBuffers();
}
