using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Tests.Ingest;

/// <summary>The arrays ingest receives fragments into: sizes, counted references, and how much is kept idle.</summary>
public sealed class FragmentBufferPoolTests
{
    [Theory]
    [InlineData(FragmentBufferPool.MinimumPooledLength)]
    [InlineData(100_000)]
    [InlineData(131_072)]
    [InlineData(131_073)]
    [InlineData(262_143)]
    [InlineData(625_000)]
    [InlineData(16 * 1024 * 1024)]
    [InlineData(FragmentBufferPool.MaximumPooledLength)]
    public void Rent_GivesAnArrayAtMostAnEighthLongerThanTheFragment(int length)
    {
        var pool = new FragmentBufferPool();

        var buffer = pool.Rent(length);

        Assert.Equal(length, buffer.Length);
        Assert.InRange(buffer.Array.Length, length, length + (length / 8) + 1);
        Assert.Equal(buffer.Array.Length, pool.LentBytes);
        buffer.Release();
        Assert.Equal(0, pool.LentBytes);
        // Idle, nothing lent: kept up to 4 MB.
        Assert.Equal(buffer.Array.Length <= 4 * 1024 * 1024 ? buffer.Array.Length : 0, pool.IdleBytes);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1_000)]
    [InlineData(FragmentBufferPool.MinimumPooledLength - 1)]
    [InlineData(FragmentBufferPool.MaximumPooledLength + 1)]
    public void SmallAndHugeFragments_GetArraysOfTheirOwn(int length)
    {
        var pool = new FragmentBufferPool();

        var buffer = pool.Rent(length);
        buffer.Release();

        Assert.Equal(length, buffer.Array.Length);
        Assert.Equal(0, pool.LentBytes);
        Assert.Equal(0, pool.IdleBytes);
    }

    [Fact]
    public void TheArray_GoesBackOnlyWhenTheLastHolderReleasesIt_AndIsLentAgain()
    {
        var pool = new FragmentBufferPool();
        var first = pool.Rent(300_000);
        Assert.True(first.TryRetain()); // the index's reference

        first.Release(); // the ingest's
        var second = pool.Rent(300_000);
        Assert.NotSame(first.Array, second.Array);

        first.Release(); // the index's: the last
        var third = pool.Rent(290_000);
        Assert.Same(first.Array, third.Array);
        Assert.False(first.TryRetain());
    }

    [Fact]
    public void AnExactArray_IsACopyWhenPooled_EvenOfTheSameLength()
    {
        var pooled = new FragmentBufferPool().Rent(131_072);
        Assert.Equal(pooled.Length, pooled.Array.Length);
        var own = FragmentBuffer.Wrap(new byte[1_000]);

        // A pooled array holds other bytes once released: whoever keeps the bytes (a low-latency part) needs its own.
        Assert.NotSame(pooled.Array, pooled.ToExactArray());
        Assert.Equal(pooled.Length, pooled.ToExactArray().Length);
        Assert.Same(own.Array, own.ToExactArray());
    }

    [Fact]
    public void ReleasingMoreOftenThanRetained_IsAnError()
    {
        var buffer = new FragmentBufferPool().Rent(200_000);
        buffer.Release();

        Assert.Throws<InvalidOperationException>(buffer.Release);
    }

    [Fact]
    public void ALongerIdleArray_ServesASlightlySmallerFragment_ButNotAMuchSmallerOne()
    {
        var pool = new FragmentBufferPool();
        var large = pool.Rent(500_000);
        large.Release();

        var much = pool.Rent(250_000);
        var slightly = pool.Rent(440_000);

        Assert.NotSame(large.Array, much.Array);
        Assert.Same(large.Array, slightly.Array);
    }

    [Fact]
    public void IdleArrays_AreBoundedByAQuarterOfWhatIsLent_AndAtLeast4MB()
    {
        var pool = new FragmentBufferPool();
        var buffers = Enumerable.Range(0, 200).Select(_ => pool.Rent(1_000_000)).ToList();
        var lent = pool.LentBytes;

        foreach (var buffer in buffers.Take(100))
        {
            buffer.Release();
        }

        Assert.InRange(pool.IdleBytes, 1, Math.Max(4L * 1024 * 1024, pool.LentBytes / 4));
        Assert.Equal(lent / 2, pool.LentBytes);

        foreach (var buffer in buffers.Skip(100))
        {
            buffer.Release();
        }

        Assert.Equal(0, pool.LentBytes);
        Assert.InRange(pool.IdleBytes, 1, 4L * 1024 * 1024);
    }

    [Fact]
    public async Task HoldersOnManyThreads_NeverSeeTheArrayLentTwice()
    {
        var pool = new FragmentBufferPool();
        var failures = 0;
        await Parallel.ForAsync(0, 4_000, async (i, _) =>
        {
            var buffer = pool.Rent(70_000 + (i % 7 * 10_000));
            buffer.Span.Fill((byte)i);
            var readers = Enumerable.Range(0, 3).Select(_ => buffer.TryRetain() ? buffer : null).ToList();
            buffer.Release();
            await Task.Yield();
            foreach (var reader in readers.OfType<FragmentBuffer>())
            {
                if (reader.Span.IndexOfAnyExcept((byte)i) >= 0)
                {
                    Interlocked.Increment(ref failures);
                }

                reader.Release();
            }
        });

        Assert.Equal(0, failures);
        Assert.Equal(0, pool.LentBytes);
    }
}
