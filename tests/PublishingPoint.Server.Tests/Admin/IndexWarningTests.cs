using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Admin;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Admin;

/// <summary>
/// A point whose archive is kept for ever keeps every fragment in its index too (about 264 bytes a fragment and track):
/// past a size the operator is told, with the setting that bounds it; a point with an archive length is not warned.
/// </summary>
public sealed class IndexWarningTests
{
    [Fact]
    public async Task AnIndexThatGrowsForEver_IsWarnedAbout_PastItsSize()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=60");
        var push = await Encoder.PushSmoothAsync(server.Url("live/forever.isml/Streams(a)"), new EncoderSettings { Seconds = 6, RealTime = false });
        Assert.True(push.ExitCode == 0, Tool.Describe(push));
        // ffmpeg may exit before the server has read the end of its body: wait for the 'mfra' to have finalised the point.
        var registry = server.Services.GetRequiredService<PointRegistry>();
        await Eventually.WaitUntilAsync(() => registry.Find("live/forever.isml")?.State == PointState.Vod, "the push never ended in VOD");
        var point = registry.Find("live/forever.isml")!;
        var tracks = point.Tracks();
        var bytes = tracks.Sum(t => (long)t.Count) * IndexBudget.EntryBytes;
        Assert.True(bytes > 0);

        var now = DateTimeOffset.UtcNow;
        Assert.Contains(PointWarnings.Of(point, tracks, now, archiveLengthSeconds: 0, indexWarningBytes: bytes - 1), w => w.Contains("kept for ever", StringComparison.Ordinal));
        Assert.DoesNotContain(PointWarnings.Of(point, tracks, now, archiveLengthSeconds: 0, indexWarningBytes: bytes), w => w.Contains("kept for ever", StringComparison.Ordinal));
        Assert.DoesNotContain(PointWarnings.Of(point, tracks, now, archiveLengthSeconds: 3600, indexWarningBytes: bytes - 1), w => w.Contains("kept for ever", StringComparison.Ordinal));

        // The API shows the shipped threshold's verdict: a few fragments are far from it.
        Assert.DoesNotContain("kept for ever", await server.Http.GetStringAsync("api/points/live/forever.isml"), StringComparison.Ordinal);
    }
}
