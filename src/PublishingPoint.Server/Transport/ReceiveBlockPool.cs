using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace PublishingPoint.Server.Transport;

/// <summary>
/// Kestrel's memory pool with larger blocks. Kestrel receives into one pool block at a time, 4 KB by default, so an
/// encoder's 100 MB/s of chunked POSTs cost 25,000 receive calls a second (and as many turns of the chunked-body and box
/// parsers); with 16 KB blocks a fourth of that. Blocks are pinned arrays (as Kestrel's own), at most
/// <see cref="MaxIdleBytes"/> of them kept idle, most recently returned first.
/// </summary>
internal sealed class ReceiveBlockPool(int blockSize) : MemoryPool<byte>
{
    public const long MaxIdleBytes = 32L * 1024 * 1024;
    private readonly ConcurrentStack<Block> _idle = new();
    private readonly int _maxIdle = (int)(MaxIdleBytes / blockSize);
    private int _idleCount;
    private long _allocated;
    private bool _disposed;

    public override int MaxBufferSize => blockSize;

    /// <summary>Blocks made since the start (lent ones and idle ones included).</summary>
    public long Allocated => Interlocked.Read(ref _allocated);

    public int IdleCount => Volatile.Read(ref _idleCount);

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, blockSize);
        if (_idle.TryPop(out var block))
        {
            Interlocked.Decrement(ref _idleCount);
            block.Lend();
            return block;
        }

        Interlocked.Increment(ref _allocated);
        return new Block(this, blockSize);
    }

    private void Return(Block block)
    {
        if (!Volatile.Read(ref _disposed) && Interlocked.Increment(ref _idleCount) <= _maxIdle)
        {
            _idle.Push(block);
            return;
        }

        Interlocked.Decrement(ref _idleCount);
    }

    protected override void Dispose(bool disposing)
    {
        Volatile.Write(ref _disposed, true);
        _idle.Clear();
    }

    private sealed class Block(ReceiveBlockPool pool, int size) : IMemoryOwner<byte>
    {
        private readonly byte[] _array = GC.AllocateUninitializedArray<byte>(size, pinned: true);
        private int _lent = 1;

        // Created from the pinned array: pinning it for a system call takes no handle.
        public Memory<byte> Memory => MemoryMarshal.CreateFromPinnedArray(_array, 0, _array.Length);

        public void Lend() => Volatile.Write(ref _lent, 1);

        public void Dispose()
        {
            // A Dispose repeated before the block is lent again is ignored, so it is not idle twice (then lent to two renters).
            if (Interlocked.Exchange(ref _lent, 0) == 1)
            {
                pool.Return(this);
            }
        }
    }
}

/// <summary>Gives Kestrel's transports a <see cref="ReceiveBlockPool"/> each.</summary>
internal sealed class ReceiveBlockPoolFactory(int blockSize) : IMemoryPoolFactory<byte>
{
    private readonly ConcurrentQueue<ReceiveBlockPool> _pools = new();

    public int BlockSize => blockSize;

    /// <summary>Blocks the pools made so far.</summary>
    public long Allocated => _pools.Sum(p => p.Allocated);

    public long IdleBytes => _pools.Sum(p => (long)p.IdleCount * blockSize);

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        var pool = new ReceiveBlockPool(blockSize);
        _pools.Enqueue(pool);
        return pool;
    }
}
