using System.Globalization;
using System.Net.Sockets;
using System.Reflection;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace PublishingPoint.Server.Transport;

/// <summary>
/// Players' connections are served on the socket engine's event threads, as nginx's workers serve theirs: a socket's
/// completions (and Kestrel's request code, inline behind them) run where epoll reported them, without a hand-over to the
/// thread pool for each read. A connection that carries anything else (ingest with its archive writes and fsyncs, the
/// API, /metrics) is moved to the thread pool for good before that request runs, so an event thread never waits on
/// a disk or an operator's action.
/// </summary>
/// <remarks>
/// The runtime's switch for one socket, <c>Socket.PreferInlineCompletions</c>, is internal and kept reachable for
/// reflection (its process-wide form is DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS); where a runtime lacks it, every
/// connection stays on the pool as before.
/// </remarks>
internal static class EventLoop
{
    private const string ThreadCountVariable = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";

    private static readonly Action<Socket, bool>? SetInline = typeof(Socket)
        .GetProperty("PreferInlineCompletions", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)?.SetMethod?
        .CreateDelegate<Action<Socket, bool>>();

    public static bool Supported => SetInline is not null;

    /// <summary>
    /// One event thread per core: the runtime's default is one per 30 cores, which would put every player on one core.
    /// Takes effect only before the process's first socket; an operator's own value is kept.
    /// </summary>
    public static void UseThreadPerCore()
    {
        if (Supported && Environment.GetEnvironmentVariable(ThreadCountVariable) is null)
        {
            Environment.SetEnvironmentVariable(ThreadCountVariable, Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>
    /// Continues on the thread pool when called elsewhere (an event thread): for work that takes longer than an answer
    /// from memory, such as making a segment, which would hold up every other connection of its event thread.
    /// </summary>
    public static async ValueTask ToPoolAsync()
    {
        if (!Thread.CurrentThread.IsThreadPoolThread)
        {
            // Not a pool thread, so the continuation is queued to the pool's global queue.
            await Task.Yield();
        }
    }

    /// <summary>Kestrel connection middleware: every TCP connection starts on the event loop.</summary>
    public static Func<ConnectionDelegate, ConnectionDelegate> Connections() => next => connection =>
    {
        if (SetInline is not null && connection.Features.Get<IConnectionSocketFeature>()?.Socket is { ProtocolType: ProtocolType.Tcp } socket)
        {
            SetInline(socket, true);
            connection.Features.Set(new EventLoopConnection(socket));
        }

        return next(connection);
    };

    /// <summary>A connection's place: on the event loop until <see cref="Leave"/>.</summary>
    internal sealed class EventLoopConnection(Socket socket)
    {
        private int _left;

        public bool OnLoop => Volatile.Read(ref _left) == 0;

        /// <summary>Hands the connection's completions to the thread pool from now on; true the first time.</summary>
        public bool Leave()
        {
            if (Interlocked.Exchange(ref _left, 1) != 0)
            {
                return false;
            }

            SetInline!(socket, false);
            return true;
        }
    }
}
