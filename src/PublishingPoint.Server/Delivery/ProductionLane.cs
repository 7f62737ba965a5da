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
/// viewers share what ingest leaves. On the pool a crowd's productions queued ahead of ingest's continuations, and
/// every channel's fragments were listed seconds late (docs/benchmarks.md, "A lane for productions").
/// </summary>
/// <remarks>
/// The queue is not bounded here: each item is a segment that requests wait for, so it is bounded by the segment cache's
/// entries and the connections. A production that waits for the disk goes on on the pool after its first read.
/// </remarks>
internal sealed partial class ProductionLane : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread[] _threads;
    private readonly int _nice;
    private long _niced;
    private long _runs;

    public ProductionLane(IOptions<PublishingPointOptions> options)
        : this((options ?? throw new ArgumentNullException(nameof(options))).Value.ProductionThreads ?? 2 * Environment.ProcessorCount,
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

    /// <summary>The lane's threads; 0 when productions run on the thread pool.</summary>
    public int Threads => _threads.Length;

    /// <summary>The lane's threads whose nice value was set (those whose system call failed run at the process's).</summary>
    public long NicedThreads => Interlocked.Read(ref _niced);

    /// <summary>Work items run on the lane's threads (the parts of productions up to their first wait).</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>Work items waiting for a thread of the lane.</summary>
    public int Queued => _work.Count;

    /// <summary>Continues on one of the lane's threads; on the thread pool when there is no lane or it has none.</summary>
    public static Awaitable Enter(ProductionLane? lane) => new(lane is { Threads: > 0 } ? lane : null);

    public void Dispose() => _work.CompleteAdding();

    private void Run()
    {
        // A thread is a task of its own to Linux, with its own nice value; raising it needs no privilege.
        if (_nice != 0 && OperatingSystem.IsLinux() && SetPriority(0, GetThreadId(), _nice) == 0)
        {
            Interlocked.Increment(ref _niced);
        }

        foreach (var work in _work.GetConsumingEnumerable())
        {
            Interlocked.Increment(ref _runs);
            work();
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

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetThreadId();

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
