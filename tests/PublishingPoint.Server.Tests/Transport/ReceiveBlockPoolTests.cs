using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;
using PublishingPoint.Server.Transport;

namespace PublishingPoint.Server.Tests.Transport;

public sealed class ReceiveBlockPoolTests
{
    private const int BlockSize = 16 * 1024;

    [Fact]
    public void Blocks_AreTheBlockSize_AndLargerRentsAreRefused()
    {
        using var pool = new ReceiveBlockPool(BlockSize);
        using var block = pool.Rent(100);
        Assert.Equal(BlockSize, block.Memory.Length);
        Assert.Equal(BlockSize, pool.MaxBufferSize);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(BlockSize + 1));
    }

    [Fact]
    public void AReturnedBlock_IsLentAgain_AndASecondDispose_DoesNotLendItTwice()
    {
        using var pool = new ReceiveBlockPool(BlockSize);
        var first = pool.Rent();
        first.Memory.Span[0] = 42;
        first.Dispose();
        first.Dispose();
        Assert.Equal(1, pool.IdleCount);

        using var again = pool.Rent();
        using var other = pool.Rent();
        Assert.Equal(42, again.Memory.Span[0]);
        Assert.False(again.Memory.Span.Overlaps(other.Memory.Span));
        Assert.Equal(2, pool.Allocated);
    }

    [Fact]
    public void LendingAndReturningAnIdleBlock_AllocatesNothing()
    {
        // Kestrel rents and returns a block for every request a connection reads.
        using var pool = new ReceiveBlockPool(BlockSize);
        pool.Rent().Dispose();
        pool.Rent().Dispose();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            pool.Rent().Dispose();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1, pool.Allocated);
    }

    [Fact]
    public void IdleBlocks_AreBounded()
    {
        using var pool = new ReceiveBlockPool(BlockSize);
        var lent = Enumerable.Range(0, (int)(ReceiveBlockPool.MaxIdleBytes / BlockSize) + 100).Select(_ => pool.Rent()).ToList();
        lent.ForEach(b => b.Dispose());
        Assert.Equal(ReceiveBlockPool.MaxIdleBytes / BlockSize, pool.IdleCount);
    }

    [Fact]
    public void BlocksIdleForAWholePeriod_AreLetGo_HalfAtATime_AndBlocksInUseStay()
    {
        using var pool = new ReceiveBlockPool(BlockSize);
        var burst = Enumerable.Range(0, 100).Select(_ => pool.Rent()).ToList();
        burst.ForEach(b => b.Dispose());
        Assert.Equal(100, pool.IdleCount);
        Assert.Equal(0, pool.Trim()); // the period saw the burst take every block: none stayed idle through it

        Assert.Equal(50, pool.Trim());
        Assert.Equal(25, pool.Trim());

        // Ten blocks lent and returned every period: those stay, the rest keep going.
        for (var period = 0; period < 10; period++)
        {
            var steady = Enumerable.Range(0, 10).Select(_ => pool.Rent()).ToList();
            steady.ForEach(b => b.Dispose());
            pool.Trim();
        }

        Assert.InRange(pool.IdleCount, 10, 11);
        Assert.Equal(100, pool.Allocated);
    }

    [Fact]
    public void ManyThreads_NeverHoldTheSameBlock()
    {
        using var pool = new ReceiveBlockPool(BlockSize);
        Parallel.For(0, 8, worker =>
        {
            for (var i = 0; i < 5_000; i++)
            {
                using var block = pool.Rent();
                var span = block.Memory.Span;
                span.Fill((byte)worker);
                Assert.True(span.IndexOfAnyExcept((byte)worker) < 0, "another thread wrote into a block lent to this one");
            }
        });
    }

    [Fact]
    public async Task KestrelReceives_IntoTheLargerBlocks_AndIngestWorks()
    {
        var capture = await IsmvCapture.MakeAsync(4, 2500, 64, 640, 360);
        await using var shipped = await RunningServer.StartAsync();
        await using var kestrels = await RunningServer.StartAsync(null, "--PublishingPoint:ReceiveBlockKilobytes=4");
        var factory = Assert.IsType<ReceiveBlockPoolFactory>(shipped.Services.GetRequiredService<IMemoryPoolFactory<byte>>());
        Assert.Equal(BlockSize, factory.BlockSize);
        Assert.IsNotType<ReceiveBlockPoolFactory>(kestrels.Services.GetRequiredService<IMemoryPoolFactory<byte>>());

        var before = factory.Allocated;
        foreach (var server in new[] { shipped, kestrels })
        {
            var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/blocks.isml/Streams(a)", capture);
            Assert.True(status == HttpStatusCode.OK, body);
        }

        Assert.True(factory.Allocated > before, "Kestrel did not rent from the pool");
        var metrics = await shipped.Http.GetStringAsync("metrics");
        Assert.Matches(@"(?m)^publishingpoint_transport_receive_blocks_allocated(_total)?(\{[^}]*\})? [1-9]", metrics);
        Assert.Contains("publishingpoint_transport_receive_blocks_idle", metrics, StringComparison.Ordinal);
        // The same media indexed either way: the same segment bytes.
        var playlist = "live/blocks.isml/" + HlsText.AttributeLines(await shipped.Http.GetStringAsync("live/blocks.isml/master.m3u8"), "#EXT-X-STREAM-INF")[0].Uri;
        var segments = HlsText.Segments(await shipped.Http.GetStringAsync(playlist));
        Assert.True(segments.Count >= 2);
        var segment = $"live/blocks.isml/hls/{segments[1].Uri}";
        Assert.Equal(await kestrels.Http.GetByteArrayAsync(segment), await shipped.Http.GetByteArrayAsync(segment));
    }
}
