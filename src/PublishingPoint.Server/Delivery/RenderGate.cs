using System.Collections.Concurrent;

namespace PublishingPoint.Server.Delivery;

/// <summary>
/// Bounds the answers made for a request that no cache answers (time-shifted manifests and playlists, which may list a
/// whole day's archive: each once per version, or per half segment with a delay): at most <c>concurrency</c> rendered at once, at most <c>maxWaiting</c> waiting for a
/// turn; past that the request is refused (503 with Retry-After), so a flood of them takes at most its share of the
/// cores and never the memory of an unbounded queue. One client (<see cref="Configuration.ClientNetwork"/>) holds at
/// most <c>maxPerClient</c> of the turns and places at once (429 past it), so a flood of distinct queries from one
/// machine cannot fill the queue and keep everyone else's start-over at 503; turns are given in order of arrival.
/// </summary>
internal sealed class RenderGate(int concurrency, int maxWaiting, int maxPerClient = int.MaxValue) : IDisposable
{
    private readonly SemaphoreSlim _turns = new(concurrency, concurrency);
    private readonly ConcurrentDictionary<UInt128, int> _clients = new();
    private int _admitted;

    /// <summary>Requests holding or waiting for a turn.</summary>
    public int Admitted => Volatile.Read(ref _admitted);

    /// <summary>Renders at once.</summary>
    public int Concurrency => concurrency;

    public enum Refusal
    {
        None,

        /// <summary>Every turn is taken and the queue is full: 503.</summary>
        Busy,

        /// <summary>The client already holds its share: 429.</summary>
        ClientShare,
    }

    /// <summary>A turn, to be disposed when the render is done; null when too many already wait (refuse the request).</summary>
    public async ValueTask<IDisposable?> EnterAsync(CancellationToken cancellationToken) =>
        (await EnterAsync(null, cancellationToken).ConfigureAwait(false)).Turn;

    /// <summary>
    /// The same for <paramref name="client"/> (a <see cref="Configuration.ClientNetwork.Key"/>; null for one that is
    /// not limited, a trusted proxy): no turn, and why, when it is refused.
    /// </summary>
    public async ValueTask<(IDisposable? Turn, Refusal Refused)> EnterAsync(UInt128? client, CancellationToken cancellationToken)
    {
        if (client is { } key && _clients.AddOrUpdate(key, 1, static (_, held) => held + 1) > maxPerClient)
        {
            Leave(key);
            return (null, Refusal.ClientShare);
        }

        if (Interlocked.Increment(ref _admitted) > concurrency + maxWaiting)
        {
            Interlocked.Decrement(ref _admitted);
            Leave(client);
            return (null, Refusal.Busy);
        }

        try
        {
            await _turns.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Decrement(ref _admitted);
            Leave(client);
            throw;
        }

        return (new Turn(this, client), Refusal.None);
    }

    public void Dispose() => _turns.Dispose();

    private void Leave(UInt128? client)
    {
        if (client is not { } key)
        {
            return;
        }

        // Remove the client's entry only when its count is the one seen (another turn may have just been taken).
        while (_clients.TryGetValue(key, out var held))
        {
            if (held <= 1 ? _clients.TryRemove(KeyValuePair.Create(key, held)) : _clients.TryUpdate(key, held - 1, held))
            {
                return;
            }
        }
    }

    private sealed class Turn(RenderGate gate, UInt128? client) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                gate._turns.Release();
                Interlocked.Decrement(ref gate._admitted);
                gate.Leave(client);
            }
        }
    }
}
