using System.Net;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Dash;

/// <summary>
/// A live MPD's publishTime belongs to the point's version: rendered again at the same version (its cached copy
/// evicted, another origin's miss) it is the same bytes under the same ETag, where the clock's later time made other
/// bytes under the ETag of the first; and a later version never gets an earlier publishTime, even when the server's
/// clock steps back between them (DASH: publishTime grows whenever the MPD changes).
/// </summary>
public sealed class PublishTimeTests
{
    [Fact]
    public async Task ALiveMpdsPublishTime_StaysWithItsVersion_AndNeverGoesBack()
    {
        var clock = new SettableClock(DateTimeOffset.UtcNow);
        await using var server = await RunningServer.StartWithClockAsync(clock, "--PublishingPoint:FinalizeGraceSeconds=3600");
        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/pt.isml/Streams(a)", IsmvCapture.WithoutEnd(await IsmvCapture.SixSecondsAsync()));
        Assert.True(status == HttpStatusCode.OK, text);
        Assert.True(PointPath.TryParse("live/pt.isml", out var path, out _));
        var point = server.Services.GetRequiredService<PointRegistry>().Find(path)!;

        using var first = await server.Http.GetAsync("live/pt.isml/manifest.mpd");
        var firstBody = await first.Content.ReadAsStringAsync();
        var firstTime = MpdView.Parse(firstBody).Date("publishTime")!.Value;
        Assert.True(MpdView.Parse(firstBody).IsDynamic);

        clock.Now += TimeSpan.FromSeconds(1);
        point.Output.Clear();
        using var again = await server.Http.GetAsync("live/pt.isml/manifest.mpd");
        Assert.Equal(firstBody, await again.Content.ReadAsStringAsync());
        Assert.Equal(first.Headers.ETag, again.Headers.ETag);

        clock.Now -= TimeSpan.FromSeconds(5);
        point.Touch();
        var later = MpdView.Parse(await server.Http.GetStringAsync("live/pt.isml/manifest.mpd")).Date("publishTime")!.Value;
        Assert.True(later > firstTime, $"{later:o} is not after {firstTime:o}");
    }

    private sealed class SettableClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
