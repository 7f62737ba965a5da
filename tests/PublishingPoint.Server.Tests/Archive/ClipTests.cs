using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Archive;

public sealed class ClipTests
{
    [Fact]
    public async Task ClipOfALivePoint_IsAStandaloneVodCutOnKeyframes_InEveryFormat()
    {
        await using var server = await RunningServer.StartAsync();
        var push = Encoder.PushSmoothAsync(server.Url("live/src.isml/Streams(a)"), new EncoderSettings { Seconds = 14 });
        try
        {
            // While the source is still live, cut media seconds 2 to 8 (keyframes every 2 s).
            JsonElement source = default;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            var ready = false;
            while (!ready && DateTime.UtcNow < deadline)
            {
                await Task.Delay(500);
                using var response = await server.Http.GetAsync("api/points/live/src.isml");
                if (response.IsSuccessStatusCode)
                {
                    source = await response.Content.ReadFromJsonAsync<JsonElement>();
                    ready = source.GetProperty("tracks").EnumerateArray().Any(t => t.GetProperty("lastSeconds").GetDouble() >= 8.5);
                }
            }

            Assert.True(ready, "the source never reached 8.5 s");

            Assert.Equal("live", source.GetProperty("state").GetString());
            var anchor = source.GetProperty("timelineAnchor").GetDateTimeOffset();
            var request = new
            {
                source = "live/src.isml",
                path = "clips/goal.isml",
                start = anchor.AddSeconds(2.5).ToString("O", CultureInfo.InvariantCulture),
                end = anchor.AddSeconds(8).ToUnixTimeMilliseconds() / 1000.0,
            };
            using var created = await server.Http.PostAsJsonAsync("api/clips", new { request.source, request.path, request.start, end = request.end.ToString(CultureInfo.InvariantCulture) });
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());

            var clip = await SmoothManifestView.FetchAsync(server.Http, "clips/goal.isml/Manifest");
            Assert.False(clip.IsLive);
            Assert.Equal([20_000_000L, 40_000_000L, 60_000_000L], clip.ChunkTimes("video"));

            var hls = Path.Combine(TempDirectory.Create("pp-clip"), "clip.ts");
            var copy = await Tool.RunAsync("ffmpeg", ["-v", "error", "-i", server.Url("clips/goal.isml/master.m3u8").ToString(), "-c", "copy", hls]);
            Assert.True(copy.ExitCode == 0, Tool.Describe(copy));
            Assert.InRange(Seconds(await Tool.ProbeAsync(hls, "-show_entries", "format=duration", "-of", "csv=p=0")), 5.5, 6.6);
            Assert.InRange(Seconds(await Tool.ProbeAsync(server.Url("clips/goal.isml/manifest.mpd").ToString(), "-show_entries", "format=duration", "-of", "csv=p=0")), 5.5, 6.6);
            var archive = Path.Combine(server.DataPath, "clips", "goal.isml", "a.ismv");
            Assert.InRange(Seconds(await Tool.ProbeAsync(archive, "-show_entries", "format=duration", "-of", "csv=p=0")), 5.5, 6.6);

            using var again = await server.Http.PostAsJsonAsync("api/clips", new { request.source, request.path, request.start, end = request.end.ToString(CultureInfo.InvariantCulture) });
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        }
        finally
        {
            Assert.Equal(0, (await push).ExitCode);
        }
    }

    /// <summary>
    /// A clip kept none of its source's settings (a review's finding): a point with its own ingest secret gave a clip
    /// that took pushes under the server-wide secret, or from any local process without one, continuing the clip. A
    /// clip now has its source's settings and is closed until an operator opens it.
    /// </summary>
    [Fact]
    public async Task AClip_KeepsItsSourcesSettings_AndIsClosedToIngest()
    {
        var data = TempDirectory.Create("pp-clipset");
        var capture = await IsmvCapture.SixSecondsAsync();
        await using (var server = await RunningServer.StartAsync(data))
        {
            using var created = await server.Http.PostAsJsonAsync("api/points", new { path = "live/own.isml", ingestSecret = "own-secret-0123456" });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/own.isml/Streams(a)?token=own-secret-0123456", capture)).Status);
            var anchor = (await server.Http.GetFromJsonAsync<JsonElement>("api/points/live/own.isml")).GetProperty("timelineAnchor").GetDateTimeOffset();
            using var clip = await server.Http.PostAsJsonAsync("api/clips", new
            {
                source = "live/own.isml",
                path = "clips/own.isml",
                start = anchor.ToString("O", CultureInfo.InvariantCulture),
                end = anchor.AddSeconds(4).ToString("O", CultureInfo.InvariantCulture),
            });
            Assert.True(clip.StatusCode == HttpStatusCode.Created, await clip.Content.ReadAsStringAsync());
            await AssertClosedWithTheSourcesSecretAsync(server);
        }

        // and after a restart
        await using var restarted = await RunningServer.StartAsync(data);
        await AssertClosedWithTheSourcesSecretAsync(restarted);
        Assert.Equal(HttpStatusCode.OK, (await restarted.Http.PostAsync("api/points/clips/own.isml/open", JsonContent.Create(new { }))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(restarted.Http, "clips/own.isml/Streams(b)?token=own-secret-0123456", capture)).Status);

        static async Task AssertClosedWithTheSourcesSecretAsync(RunningServer server)
        {
            var capture = await IsmvCapture.SixSecondsAsync();
            Assert.Equal(HttpStatusCode.Unauthorized, (await Posting.PostChunkedAsync(server.Http, "clips/own.isml/Streams(b)", capture)).Status);
            Assert.Equal(HttpStatusCode.Conflict, (await Posting.PostChunkedAsync(server.Http, "clips/own.isml/Streams(b)?token=own-secret-0123456", capture)).Status);
            var view = await server.Http.GetFromJsonAsync<JsonElement>("api/points/clips/own.isml");
            Assert.True(view.GetProperty("closed").GetBoolean());
            Assert.Equal("(set)", view.GetProperty("settings").GetProperty("ingestSecret").GetString());
        }
    }

    /// <summary>
    /// While a clip is being written to its path, an encoder's push or an operator's create there is refused: they
    /// made a point in the clip's folder (a review's finding), whose files a failed clip's clean-up could then take.
    /// </summary>
    [Fact]
    public async Task APathAClipIsBeingWrittenTo_RefusesIngestAndCreation_UntilItIsThere()
    {
        await using var server = await RunningServer.StartAsync();
        var registry = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<PublishingPoint.Server.Points.PointRegistry>(server.Services);
        Assert.True(PublishingPoint.Server.Points.PointPath.TryParse("clips/busy.isml", out var path, out _));
        var capture = await IsmvCapture.SixSecondsAsync();
        using (registry.ReserveNew(path))
        {
            var (status, body) = await Posting.PostChunkedAsync(server.Http, "clips/busy.isml/Streams(a)", capture);
            Assert.True(status == HttpStatusCode.Conflict, $"{(int)status} {body}");
            Assert.Contains("being created", body, StringComparison.Ordinal);
            using var created = await server.Http.PostAsJsonAsync("api/points", new { path = "clips/busy.isml" });
            Assert.Equal(HttpStatusCode.Conflict, created.StatusCode);
            Assert.Null(registry.Find(path));
        }

        var (after, text) = await Posting.PostChunkedAsync(server.Http, "clips/busy.isml/Streams(a)", capture);
        Assert.True(after == HttpStatusCode.OK, text);
    }

    /// <summary>
    /// A clip ignored the free-disk floor ingest keeps (a review's finding): a long one took the disk below it, and
    /// every channel got 507. It is refused with 507 when it would, before anything is written.
    /// </summary>
    [Fact]
    public async Task AClipThatWouldTakeTheDiskBelowItsFloor_Gets507_AndWritesNothing()
    {
        var data = TempDirectory.Create("pp-clipdisk");
        var capture = await IsmvCapture.MakeAsync(60, 400, 64);
        await using (var first = await RunningServer.StartAsync(data))
        {
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(first.Http, "live/big.isml/Streams(a)", capture)).Status);
        }

        // Room for ingest (the clip's source is already there) but not for a copy of it.
        Assert.True(capture.Length > 2_000_000, $"{capture.Length} bytes");
        var floor = new DriveInfo(data).AvailableFreeSpace - (capture.Length / 10); // holds unless 0.9 of it is freed meanwhile
        await using var server = await RunningServer.StartAsync(data, $"--PublishingPoint:MinFreeDiskBytes={floor}");
        var point = await server.Http.GetFromJsonAsync<JsonElement>("api/points/live/big.isml");
        var anchor = point.GetProperty("timelineAnchor").GetDateTimeOffset();
        using var clip = await server.Http.PostAsJsonAsync("api/clips", new { source = "live/big.isml", path = "clips/big.isml", start = anchor.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), end = (anchor.ToUnixTimeSeconds() + 70).ToString(CultureInfo.InvariantCulture) });
        Assert.Equal(HttpStatusCode.InsufficientStorage, clip.StatusCode);
        Assert.False(Directory.Exists(Path.Combine(data, "clips", "big.isml")), "the refused clip left a folder");
    }

    private static double Seconds(string text) => double.Parse(text.Trim(), CultureInfo.InvariantCulture);
}
