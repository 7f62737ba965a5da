using System.Net;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>
/// The fragment bytes the index keeps in memory (each track's newest fragment, and the memory window) are bounded per
/// point and per server: an encoder with a point's secret cannot pin memory by sending huge fragments on many tracks.
/// Past the bound the bytes are read from the archive, and players get the same media.
/// </summary>
[Collection("memory measurements")]
public sealed class KeptFragmentBytesTests
{
    [Fact]
    public async Task KeptBytes_StayWithinThePointsAndTheServersBound_AndTheMediaIsTheSame()
    {
        var capture = await IsmvCapture.MakeAsync(30, 400, 64);
        var mfra = Boxes.TopLevel(capture).Single(b => b.Type == "mfra").Offset;
        string[] live = ["--PublishingPoint:DvrWindowSeconds=120", "--PublishingPoint:FinalizeGraceSeconds=3600", "--PublishingPoint:MemoryWindowSeconds=3600"];
        await using var full = await RunningServer.StartAsync(null, live);
        await using var bounded = await RunningServer.StartAsync(null,
            [.. live, "--PublishingPoint:MaxMemoryWindowBytesPerPoint=400000", "--PublishingPoint:MaxMemoryWindowBytesPerServer=600000"]);
        await using var none = await RunningServer.StartAsync(null,
            ["--PublishingPoint:FinalizeGraceSeconds=3600", "--PublishingPoint:MaxMemoryWindowBytesPerPoint=0", "--PublishingPoint:MaxMemoryWindowBytesPerServer=0"]);
        string[] points = ["live/kept-a.isml", "live/kept-b.isml"];
        foreach (var server in new[] { full, bounded, none })
        {
            foreach (var point in points)
            {
                var (status, text) = await Posting.PostChunkedAsync(server.Http, $"{point}/Streams(a)", capture[..mfra]); // still live
                Assert.True(status == HttpStatusCode.OK, text);
            }
        }

        var unbounded = (await DvrOnDiskTests.InMemoryAsync(full, points[0])).Bytes;
        Assert.True(unbounded > 1_000_000, $"{unbounded} bytes kept without a bound");
        long sum = 0;
        foreach (var point in points)
        {
            var kept = (await DvrOnDiskTests.InMemoryAsync(bounded, point)).Bytes;
            Assert.InRange(kept, 1, 400_000);
            sum += kept;
            Assert.Equal(0, (await DvrOnDiskTests.InMemoryAsync(none, point)).Bytes);
        }

        Assert.InRange(sum, 1, 600_000);
        foreach (var point in points)
        {
            await DvrOnDiskTests.AssertSameMediaAsync(full, bounded, point, 12);
            await DvrOnDiskTests.AssertSameMediaAsync(full, none, point, 12);
        }
    }
}
