using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Archive;

/// <summary>
/// Low-latency chunks are gathered into one fragment up to the next keyframe, and a run with no keyframe is indexed
/// once it has 20 s. It was checked before a chunk was added, so at 29.97 fps (6-frame chunks of 0.2002 s) a run
/// came to 20.02 s. Recovery takes a fragment longer than ingest allows (the greater of MaxFragmentLeadSeconds and
/// 20 s) for damage, so with a lead of 20 s every such run, served and fsynced, was dropped at the next start (a
/// review's finding). A run now ends before a chunk would take it past 20 s.
/// </summary>
public sealed class LongRunRecoveryTests
{
    [Fact]
    public async Task ARunWithoutAKeyframe_StaysWithinTwentySeconds_AndEveryFragmentIsRecoveredAfterARestart()
    {
        const string Point = "live/longgop.isml";
        var capture = await IsmvCapture.CaptureAsync((target, _) =>
        [
            "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=30000/1001", "-t", "45",
            "-c:v", "libx264", "-g", "750", "-keyint_min", "750", "-sc_threshold", "0", "-b:v", "300k",
            "-movflags", "cmaf+empty_moov+default_base_moof+frag_keyframe", "-frag_duration", "200000", "-f", "mp4", target.ToString(),
        ], new EncoderSettings { RealTime = false });
        var data = TempDirectory.Create("pp-data");
        string[] settings = ["--PublishingPoint:MaxFragmentLeadSeconds=20"];
        List<(double Duration, string Uri)> before;
        await using (var first = await RunningServer.StartAsync(data, settings))
        {
            var (status, body) = await Posting.PostChunkedAsync(first.Http, $"{Point}/Streams(v)", capture);
            Assert.True(status == HttpStatusCode.OK, body);
            before = HlsText.Segments(await first.Http.GetStringAsync($"{Point}/hls/video-300000-fmp4.m3u8"));
        }

        Assert.True(before.Count >= 3, $"{before.Count} segments");
        Assert.All(before, s => Assert.True(s.Duration <= 20.0005, $"a run of {s.Duration} s"));

        var log = new LogCapture(LogLevel.Warning);
        await using var second = await RunningServer.StartAsync(data, services => services.AddSingleton<ILoggerProvider>(log), settings);
        var after = HlsText.Segments(await second.Http.GetStringAsync($"{Point}/hls/video-300000-fmp4.m3u8"));
        Assert.Equal(before, after);
        Assert.DoesNotContain(log.Entries, e => e.Message.Contains("could not be read", StringComparison.Ordinal));
    }
}
