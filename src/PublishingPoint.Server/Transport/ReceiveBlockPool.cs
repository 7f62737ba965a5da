using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace PublishingPoint.Server.Transport;

/// <summary>
/// Kestrel's memory pool with larger blocks. Kestrel receives into one pool block at a time, 4 KB by default, so an
/// encoder's 100 MB/s of chunked POSTs cost 25,000 receive calls a second (and as many turns of the chunked-body and box
/// parsers); with 16 KB blocks a fourth of that. Blocks are pinned arrays (as Kestrel's own), at most
/// <see cref="MaxIdleBytes"/> of them kept idle, most recently returned first; every <see cref="TrimPeriod"/>, half of
/// those that stayed idle the whole period are let go (as Kestrel's own pool does), so a burst's blocks do not stay.
/// </summary>
internal sealed class ReceiveBlockPool : MemoryPool<byte>
{
    public const long MaxIdleBytes = 32L * 1024 * 1024;
    public static readonly TimeSpan TrimPeriod = TimeSpan.FromSeconds(10);
    // A stack in an array under a lock: a block is rented and returned for every request a connection reads, and a
    // ConcurrentStack allocated a node for each return. The lock is held for a few instructions.
    private readonly Lock _gate = new();
    private readonly Block?[] _idle;
    private readonly int _blockSize;
    private readonly Timer _trim;
    private int _idleCount;
    private int _fewestIdle;
    private long _allocated;
    private bool _disposed;

    public ReceiveBlockPool(int blockSize)
    {
        _blockSize = blockSize;
        _idle = new Block?[(int)(MaxIdleBytes / blockSize)];
        // The timer holds the pool weakly: a pool nobody disposed (a test's server) can still be collected.
        var self = new WeakReference<ReceiveBlockPool>(this);
        _trim = new Timer(static state => (((WeakReference<ReceiveBlockPool>)state!).TryGetTarget(out var pool) ? pool : null)?.Trim(), self, TrimPeriod, TrimPeriod);
    }

    public override int MaxBufferSize => _blockSize;

    /// <summary>Blocks made since the start (lent ones and idle ones included).</summary>
    public long Allocated => Interlocked.Read(ref _allocated);

    public int IdleCount => Volatile.Read(ref _idleCount);

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, _blockSize);
        Block? block = null;
        lock (_gate)
        {
            if (_idleCount > 0)
            {
                block = _idle[--_idleCount];
                _idle[_idleCount] = null;
            }

            _fewestIdle = Math.Min(_fewestIdle, _idleCount);
        }

        if (block is not null)
        {
            block.Lend();
            return block;
        }

        Interlocked.Increment(ref _allocated);
        return new Block(this, _blockSize);
    }

    /// <summary>Lets go of half the blocks that stayed idle since the last call; returns how many.</summary>
    public int Trim()
    {
        lock (_gate)
        {
            var released = Math.Min((_fewestIdle + 1) / 2, _idleCount);
            for (var i = 0; i < released; i++)
            {
                _idle[--_idleCount] = null;
            }

            _fewestIdle = _idleCount;
            return released;
        }
    }

    private void Return(Block block)
    {
        lock (_gate)
        {
            if (!_disposed && _idleCount < _idle.Length)
            {
                _idle[_idleCount++] = block;
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        _trim.Dispose();
        lock (_gate)
        {
            _disposed = true;
            Array.Clear(_idle);
            _idleCount = 0;
        }
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
