using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Options;
using PublishingPoint.Server.Configuration;

namespace PublishingPoint.Server.Delivery;

/// <summary>
/// Where viewers' segments are made: threads of their own (<see cref="PublishingPointOptions.ProductionThreads"/>) at a
/// lower scheduling priority (<see cref="PublishingPointOptions.ProductionNice"/>), so that when viewers arrive in a
/// crowd (a restart, an event's start) the encoders' fragments, indexed on the thread pool, get the cores first and
/// viewers share what ingest leaves. On the pool a crowd's productions queue ahead of ingest's continuations, and
/// every channel's fragments may be listed seconds late. Off unless configured: its gain was within the spread of this
/// machine's runs and its cost, later first segments for joining viewers, was not (docs/benchmarks.md, "A lane for
/// productions").
/// </summary>
/// <remarks>
/// A production made from memory (a live viewer's segment) runs on the lane to its end, and so do the answers of the
/// requests that waited for it (their continuations run where the segment completes): viewers' work stays behind
/// ingest's. A production that waits for the disk goes on on the pool after its first read. The queue is not bounded
/// here: each item is a segment that at least one request asked for, so it grows with the requests the connection
/// limits admit.
/// </remarks>
internal sealed partial class ProductionLane : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread[] _threads;
    private readonly int _nice;
    private long _runs;
    private long _failures;

    public ProductionLane(IOptions<PublishingPointOptions> options)
        : this((options ?? throw new ArgumentNullException(nameof(options))).Value.ProductionThreads,
            options.Value.ProductionNice)
    {
    }

    internal ProductionLane(int threads, int nice)
    {
        _nice = nice;
        _threads = new Thread[threads];
        for (var i = 0; i < threads; i++)
        {
            _threads[i] = new Thread(Run) { IsBackground = true, Name = $"production {i}" };
            _threads[i].Start();
        }
    }

    [ThreadStatic]
    private static bool _onLane;

    /// <summary>Whether the calling thread is one of a lane's.</summary>
    public static bool OnLaneThread => _onLane;

    /// <summary>The lane's threads; 0 when productions run on the thread pool.</summary>
    public int Threads => _threads.Length;

    /// <summary>Work items run on the lane's threads (the parts of productions up to their first wait).</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>Work items that threw on a lane thread (none should: a continuation keeps its exception in its task).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Work items waiting for a thread of the lane.</summary>
    public int Queued => _work.Count;

    /// <summary>Continues on one of the lane's threads; on the thread pool when there is no lane or it has none.</summary>
    public static Awaitable Enter(ProductionLane? lane) => new(lane is { Threads: > 0 } ? lane : null);

    public void Dispose() => _work.CompleteAdding();

    private void Run()
    {
        _onLane = true;
        // A thread is a task of its own to Linux, with its own nice value: PRIO_PROCESS with who 0 is the calling
        // thread there (not the process, as POSIX has it). Raising it needs no privilege.
        try
        {
            if (_nice != 0 && OperatingSystem.IsLinux())
            {
                // A failure (a sandbox that forbids it) leaves the thread at the process's priority.
                _ = SetPriority(0, 0, _nice);
            }
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // A libc without it: the lane still keeps productions out of the pool's queue, at the process's priority.
        }

        foreach (var work in _work.GetConsumingEnumerable())
        {
            Interlocked.Increment(ref _runs);
            try
            {
                work();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // An async method's continuation keeps its exceptions in its task; anything else must not end the process.
                Interlocked.Increment(ref _failures);
            }
        }
    }

    private bool TryPost(Action continuation)
    {
        try
        {
            _work.Add(continuation);
            return true;
        }
        catch (InvalidOperationException)
        {
            // Disposed (the host is stopping): the pool finishes what is still asked for.
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "setpriority")]
    private static partial int SetPriority(int which, int who, int priority);

    internal readonly struct Awaitable(ProductionLane? lane) : ICriticalNotifyCompletion
    {
        public bool IsCompleted => false;

        public Awaitable GetAwaiter() => this;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation)
        {
            var context = ExecutionContext.Capture();
            Post(context is null ? continuation : () => ExecutionContext.Run(context, static c => ((Action)c!)(), continuation));
        }

        public void UnsafeOnCompleted(Action continuation) => Post(continuation);

        private void Post(Action continuation)
        {
            if (lane is null || !lane.TryPost(continuation))
            {
                ThreadPool.UnsafeQueueUserWorkItem(static c => c(), continuation, preferLocal: false);
            }
        }
    }
}
