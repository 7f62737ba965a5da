using System.Net;
using Microsoft.Extensions.Time.Testing;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>A fragment stamped far in the future is refused and cannot make the real ones that follow duplicates.</summary>
public sealed class FragmentTimeTests
{
    private const long TicksPerSecond = 10_000_000;

    [Fact]
    public async Task FragmentFarAheadOfTheLiveEdge_Gets400_AndTheRealOnesKeepComing()
    {
        // A second feed of the same tracks, one fragment stamped a year ahead.
        var times = await RealFeedAroundAnotherAsync("live/future.isml", f => Boxes.ShiftTfxd(f, 365L * 86400 * TicksPerSecond), "ahead of the live edge");
        Assert.True(times.Max() < 60 * TicksPerSecond);
    }

    [Fact]
    public async Task FragmentLastingAYear_Gets400_AndTheRealOnesKeepComing()
    {
        // A second feed of the same tracks: the next fragment, on time, but lasting a year.
        await RealFeedAroundAnotherAsync("live/long.isml", f => Boxes.SetTfxdDuration(f, 365L * 86400 * TicksPerSecond), "more than 30 s");
    }

    // An encoder sends two fragments; a second feed of the same tracks sends the third, changed, and gets 400 with
    // <paramref name="refusal"/>; the encoder sends the rest, and every one of its fragments is listed. Their times.
    private static async Task<long[]> RealFeedAroundAnotherAsync(string point, Func<byte[], byte[]> change, string refusal)
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxFragmentLeadSeconds=30");
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        await using var encoder = await HeldPush.StartAsync(server.BaseUrl, $"/{point}/Streams(enc1)");
        await encoder.SendAsync(header);
        await encoder.SendAsync(fragments[0]);
        await encoder.SendAsync(fragments[1]);
        await WaitForVideoChunksAsync(server, 1, point);

        var (status, text) = await Posting.PostChunkedAsync(server.Http, $"{point}/Streams(evil)", [.. header, .. change(fragments[2])]);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(refusal, text, StringComparison.Ordinal);

        foreach (var fragment in fragments.Skip(2))
        {
            await encoder.SendAsync(fragment);
        }

        Assert.Equal(200, await encoder.FinishAsync());
        var times = (await SmoothManifestView.FetchAsync(server.Http, $"{point}/Manifest")).ChunkTimes("video");
        Assert.Equal(fragments.Count / 2, times.Length);
        return times;
    }

    [Fact]
    public async Task EncoderBackAfterAnOutage_WithAWallClockTimeline_IsNotAhead()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await RunningServer.StartWithClockAsync(clock, "--PublishingPoint:MaxFragmentLeadSeconds=5");
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/outage.isml/Streams(enc1)", [.. header, .. fragments[0], .. fragments[1]])).Status);
        await WaitForVideoChunksAsync(server, 1, "live/outage.isml");
        var ahead = fragments.Skip(2).Take(2).SelectMany(f => Boxes.ShiftTfxd(f, 7 * TicksPerSecond)).ToArray();
        var (early, _) = await Posting.PostChunkedAsync(server.Http, "live/outage.isml/Streams(enc1)", [.. header, .. ahead]);
        Assert.Equal(HttpStatusCode.BadRequest, early); // 7 s ahead of an edge that has not moved: refused
        clock.Advance(TimeSpan.FromSeconds(8)); // the encoder is away; the live edge moves on with the clock

        // Back, 7 s of timeline later: within the 5 s lead of where the edge should be by now.
        var back = fragments.Skip(2).Take(2).SelectMany(f => Boxes.ShiftTfxd(f, 7 * TicksPerSecond)).ToArray();
        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/outage.isml/Streams(enc1)", [.. header, .. back]);
        Assert.True(status == HttpStatusCode.OK, text);
    }

    /// <summary>
    /// An encoder restarted on its own clock (ffmpeg starts at 0) against a point that goes on: every fragment was a
    /// "duplicate", dropped, and the encoder was answered 200, for as long as the point's media had run before (a 24/7
    /// channel: hours of nothing, and nobody told). A fragment further behind the track's newest media than
    /// MaxFragmentLeadSeconds is refused with 409 now; a replay of the last fragments is still dropped quietly.
    /// </summary>
    [Fact]
    public async Task EncoderRestartedOnItsOwnClock_Gets409_AReplayOfTheLastFragmentsStillGets200()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxFragmentLeadSeconds=5");
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        var later = fragments.Select(f => Boxes.ShiftTfxd(f, 20 * TicksPerSecond)).ToList();
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/restart.isml/Streams(enc1)", [.. header, .. later.SelectMany(f => f)])).Status);

        var (replay, _) = await Posting.PostChunkedAsync(server.Http, "live/restart.isml/Streams(enc1)", [.. header, .. later.TakeLast(2).SelectMany(f => f)]);
        Assert.Equal(HttpStatusCode.OK, replay);

        var (restarted, text) = await Posting.PostChunkedAsync(server.Http, "live/restart.isml/Streams(enc1)", [.. header, .. fragments.SelectMany(f => f)]);
        Assert.Equal(HttpStatusCode.Conflict, restarted);
        Assert.Contains("behind", text, StringComparison.Ordinal);
        var times = (await SmoothManifestView.FetchAsync(server.Http, "live/restart.isml/Manifest")).ChunkTimes("video");
        Assert.Equal(fragments.Count / 2, times.Length);
        Assert.All(times, t => Assert.True(t >= 20 * TicksPerSecond));
    }

    private static Task WaitForVideoChunksAsync(RunningServer server, int count, string point = "live/future.isml") =>
        Eventually.WaitUntilAsync(async () =>
        {
            using var response = await server.Http.GetAsync($"{point}/Manifest");
            return response.IsSuccessStatusCode && (await SmoothManifestView.FetchAsync(server.Http, $"{point}/Manifest")).ChunkTimes("video").Length >= count;
        }, $"{point} never listed {count} video fragments");
}
