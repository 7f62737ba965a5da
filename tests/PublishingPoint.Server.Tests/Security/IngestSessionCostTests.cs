using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>
/// What an ingest request costs before it has sent anything worth keeping. Runs alone (it counts the whole process's
/// allocations).
/// </summary>
[Collection("memory measurements")]
public sealed class IngestSessionCostTests
{
    /// <summary>
    /// Every MPEG-TS input (each HLS .ts file PUT) made its demuxer and fragmenter buffers up front: 2.5 MB, most of it
    /// on the large object heap, for a request of one byte (a review's finding: a keep-alive loop of tiny PUTs churned
    /// gen-2 collections for every point). They start small now and grow with what arrives.
    /// </summary>
    [Fact]
    public async Task ATinyTsPut_AllocatesLittle()
    {
        await using var server = await RunningServer.StartAsync();
        using (var warm = await server.Http.PutAsync("live/tiny.isml/warm.ts", new ByteArrayContent([0x47])))
        {
            Assert.True((int)warm.StatusCode < 500, $"{(int)warm.StatusCode}");
        }

        const int Requests = 100;
        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < Requests; i++)
        {
            using var put = await server.Http.PutAsync($"live/tiny.isml/s{i}.ts", new ByteArrayContent([0x47]));
            Assert.True((int)put.StatusCode < 500, $"{(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        }

        var perRequest = (GC.GetTotalAllocatedBytes(precise: true) - before) / Requests;
        Assert.True(perRequest < 1024 * 1024, $"{perRequest / 1024} KB allocated per one-byte TS PUT (server and client together)");
    }
}
