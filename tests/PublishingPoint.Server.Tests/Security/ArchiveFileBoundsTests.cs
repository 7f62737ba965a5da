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
