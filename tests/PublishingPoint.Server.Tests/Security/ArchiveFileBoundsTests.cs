using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>Archive files and the descriptors they hold are bounded, whatever an encoder sends and however large the library.</summary>
public sealed class ArchiveFileBoundsTests
{
    [Fact]
    public async Task StreamAlternatingTwoHeaders_StartsBoundedArchiveRuns_AndClosesFinishedOnes()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxArchiveRunsPerStream=8");
        var (headerA, fragmentsA) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        var (headerB, fragmentsB) = Boxes.SplitFragments(await IsmvCapture.MakeAsync(4, 300, 48));
        var body = new List<byte>();
        for (var i = 0; i < 200; i++)
        {
            body.AddRange(i % 2 == 0 ? headerA : headerB);
            body.AddRange(i % 2 == 0 ? fragmentsA[i % fragmentsA.Count] : fragmentsB[i % fragmentsB.Count]);
        }

        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/flip.isml/Streams(a)", [.. body]);
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Contains("changed header", text, StringComparison.Ordinal);
        var folder = Path.Combine(server.DataPath, "live", "flip.isml");
        Assert.InRange(Directory.GetFiles(folder, "*.ismv").Length, 2, 8);
        Assert.True(OpenFiles.Under(folder) <= 1, $"{OpenFiles.Under(folder)} descriptors open on the point's files after its push ended");
        var manifest = await SmoothManifestView.FetchVodAsync(server.Http, "live/flip.isml/Manifest");
        Assert.NotEmpty(manifest.ChunkTimes("video"));
    }

    [Fact]
    public async Task AHeaderRefusedForTooManyRuns_LeavesNoTracksBehind()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxArchiveRunsPerStream=2");
        const string Url = "live/runs.isml/Streams(a)";
        var (headerA, fragmentsA) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        var (headerB, fragmentsB) = Boxes.SplitFragments(await IsmvCapture.MakeAsync(2, 300, 48));
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, Url, [.. headerA, .. fragmentsA[0]])).Status);
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, Url, [.. headerB, .. fragmentsB[0]])).Status);
        Assert.Equal(4, await TracksAsync(server.Http)); // 400 and 300 kbit/s video, 64 and 48 kbit/s audio

        // Each refused header announces two tracks of new bit rates: refused before they join the point.
        foreach (var (video, audio) in new[] { (500, 96), (600, 112), (700, 128) })
        {
            var (header, _) = Boxes.SplitFragments(await IsmvCapture.MakeAsync(2, video, audio));
            var (status, text) = await Posting.PostChunkedAsync(server.Http, Url, header);
            Assert.Equal(HttpStatusCode.TooManyRequests, status);
            Assert.Contains("changed header", text, StringComparison.Ordinal);
        }

        Assert.Equal(4, await TracksAsync(server.Http));
    }

    private static async Task<int> TracksAsync(HttpClient http)
    {
        using var point = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync(new Uri("api/points/live/runs.isml", UriKind.Relative)));
        return point.RootElement.GetProperty("tracks").GetArrayLength();
    }

    [Fact]
    public async Task LibraryOfArchives_KeepsAtMostMaxOpenArchiveFilesOpen_BeforeAndAfterARestart()
    {
        const int Points = 40;
        const int Limit = 16;
        var data = TempDirectory.Create("pp-library");
        var capture = await IsmvCapture.MakeAsync(2, 200, 32);
        await using (var server = await RunningServer.StartAsync(data, $"--PublishingPoint:MaxOpenArchiveFiles={Limit}"))
        {
            for (var i = 0; i < Points; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"vod/item{i}.isml/Streams(a)", capture)).Status);
            }

            await ReadEveryPointAsync(server, Points);
            Assert.InRange(OpenFiles.Under(data), 0, Limit);
        }

        await using var restarted = await RunningServer.StartAsync(data, $"--PublishingPoint:MaxOpenArchiveFiles={Limit}");
        Assert.InRange(OpenFiles.Under(data), 0, 2); // recovery reads and lets go
        await ReadEveryPointAsync(restarted, Points);
        Assert.InRange(OpenFiles.Under(data), 1, Limit);
    }

    private static async Task ReadEveryPointAsync(RunningServer server, int points)
    {
        for (var i = 0; i < points; i++)
        {
            var manifest = await SmoothManifestView.FetchVodAsync(server.Http, $"vod/item{i}.isml/Manifest");
            var time = manifest.ChunkTimes("video")[0];
            using var fragment = await server.Http.GetAsync(manifest.Url("video", 200000, time));
            Assert.Equal(HttpStatusCode.OK, fragment.StatusCode);
        }
    }
}
