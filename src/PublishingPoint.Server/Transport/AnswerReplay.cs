using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;

namespace PublishingPoint.Server.Transport;

/// <summary>
/// An answer the server gave before, to give again without Kestrel: the status line and headers as they went (but the
/// Date), and the body from memory or a spooled file. <see cref="State"/> and <see cref="Lease"/> are the source's own
/// (what it was, what to give back once sent).
/// </summary>
internal readonly record struct ReplayAnswer(byte[] Head, ReadOnlyMemory<byte> Body, SpooledFile? File, object? State, object? Lease)
{
    public int Length => File is { } file ? (int)file.Length : Body.Length;
}

/// <summary>Where <see cref="AnswerReplay"/> finds answers (<see cref="AnswerReplay.Key"/>) and reports each one given.</summary>
internal interface IReplayAnswers
{
    bool TryAnswer(ReadOnlySpan<char> key, out ReplayAnswer answer);

    /// <summary>After each answer found, sent or not (<paramref name="sent"/>): its leases go back, and a sent one is counted.</summary>
    void Answered(in ReplayAnswer answer, bool sent, TimeSpan elapsed, IPAddress? client);
}

/// <summary>
/// Players' requests answered below Kestrel's HTTP/1 code when the server already gave the same answer to the same
/// request: a live playlist at its version, a segment from the segment cache. Kestrel costs a few microseconds an
/// answer (its parser, its per-request state, the hosting layer, our middleware), a fifth of a small segment's answer on
/// two cores, where nginx answers from a file. Kestrel still owns every connection: each request head the lane does not
/// answer (a miss, a Range, an If-None-Match, anything unusual) is handed to Kestrel unchanged and answered
/// by the whole pipeline, which records what may be replayed; the first request that is not a plain GET or HEAD (a
/// POST, a body, an upgrade, TLS, HTTP/2, a head split across reads) hands Kestrel the socket's input for good.
/// </summary>
internal static class AnswerReplay
{
    /// <summary>
    /// The lookup key of a request: its target, Host and Accept-Encoding, as they came, and whether an Origin came (CORS
    /// adds headers to that answer; their values do not depend on the origin where every origin is allowed, the only
    /// case in which such answers are kept).
    /// </summary>
    public static string Key(string target, string host, string acceptEncoding, bool origin) =>
        string.Concat(target, "\n", host, "\n", acceptEncoding, origin ? OriginMark : "");

    private const string OriginMark = "\n*";

    /// <summary>Kestrel connection middleware, after <see cref="DirectSend.Connections"/> (the lane writes to its output).</summary>
    /// <param name="keepAlive">Kestrel's keep-alive timeout, which the lane restarts after each answer of its own.</param>
    /// <param name="minBytesPerSecond">Kestrel's minimum response rate (0: none), which bounds how long a replayed answer may take.</param>
    /// <param name="limits">Kestrel's limits on request heads.</param>
    public static Func<ConnectionDelegate, ConnectionDelegate> Connections(IReplayAnswers answers, TransportMetrics? metrics, TimeSpan keepAlive, double minBytesPerSecond, HeadLimits limits) =>
        next => async connection =>
        {
            if (connection.Transport.Output is not DirectSocketOutput output)
            {
                await next(connection).ConfigureAwait(false);
                return;
            }

            var transport = connection.Transport;
            var fed = new FedInput(transport.Input);
            connection.Transport = new DirectSend.DuplexPipe(fed, output);
            var kestrel = next(connection);
            // Kestrel may end the connection (Connection: close, a 400) without completing its input: the lane ends with it.
            _ = kestrel.ContinueWith(static (_, input) => ((FedInput)input!).Complete(), fed, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            try
            {
                await new Lane(connection, transport.Input, fed, output, answers) { Metrics = metrics, KeepAlive = keepAlive, MinBytesPerSecond = minBytesPerSecond, Limits = limits }
                    .RunAsync().ConfigureAwait(false);
            }
            finally
            {
                await kestrel.ConfigureAwait(false);
                connection.Transport = transport;
            }
        };

    private sealed class Lane(ConnectionContext connection, PipeReader socket, FedInput fed, DirectSocketOutput output, IReplayAnswers answers)
    {
        private const int MaxKeyChars = 3 * 512 + 2 + 2; // the parts, their two separators, OriginMark
        private const int MaxUnreplayed = 8;
        private const double MaxSendSeconds = 24 * 3600;
        // When Kestrel was last handed a request: its keep-alive timer runs from its last answer and knows nothing of the
        // lane's, so every half of that timeout one request goes to Kestrel, and only a connection idle for the rest of
        // it is closed, as Kestrel closes idle connections.
        private long _fed = Environment.TickCount64;
        // Requests in a row not replayed (a CDN's forwarding headers, or answers nobody asked for before:
        // a CDN's edge, a live viewer of a channel few others watch): past a few, the connection is handed to Kestrel for
        // good and pays nothing more for the lane.
        private int _unreplayed;

        public TransportMetrics? Metrics { get; init; }

        public TimeSpan KeepAlive { get; init; }

        public double MinBytesPerSecond { get; init; }

        public HeadLimits Limits { get; init; } = HeadLimits.Default;

        public async Task RunAsync()
        {
            try
            {
                while (await NextAsync().ConfigureAwait(false))
                {
                }
            }
            catch (Exception e)
            {
                // The socket went away under a read or a send (or an answer could not be completed): Kestrel's reads end
                // too, so the connection closes whatever went wrong here.
                connection.Abort();
                fed.End();
                if (e is not (IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException or InvalidOperationException or OperationCanceledException))
                {
                    throw;
                }
            }
        }

        // One request head: replayed, fed to Kestrel, or the connection handed to it; false when the lane is done. It
        // waits for every request, so its state machine comes from a pool rather than a new one each time.
        [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
        private async ValueTask<bool> NextAsync()
        {
            var result = await socket.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            if (fed.Completed)
            {
                socket.AdvanceTo(buffer.Start);
                return false;
            }

            if (buffer.IsEmpty)
            {
                socket.AdvanceTo(buffer.Start);
                if (result.IsCompleted)
                {
                    fed.End();
                    return false;
                }

                return true;
            }

            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var kind = RequestHead.Read(buffer.FirstSpan, Limits, out var head);
            if (kind != HeadKind.Plain || _unreplayed >= MaxUnreplayed)
            {
                // Not consumed nor examined past its start: Kestrel reads it from there.
                socket.AdvanceTo(buffer.Start);
                if (!fed.HandOver())
                {
                    connection.Abort();
                    fed.End();
                }

                return false;
            }

            var length = head.Length;
            if (head.Replayable && Environment.TickCount64 - _fed < KeepAlive.TotalMilliseconds / 2 && TryFind(head, out var answer))
            {
                _unreplayed = 0;
                socket.AdvanceTo(buffer.GetPosition(length));
                return await ReplayAsync(answer, started).ConfigureAwait(false);
            }

            _fed = Environment.TickCount64;
            _unreplayed++;
            fed.Feed(buffer.FirstSpan[..length]);
            socket.AdvanceTo(buffer.GetPosition(length));
            return await fed.WaitForKestrelAsync().ConfigureAwait(false);
        }

        private bool TryFind(RequestHead head, out ReplayAnswer answer)
        {
            answer = default;
            var chars = head.Target.Length + head.Host.Length + head.AcceptEncoding.Length + 2 + (head.HasOrigin ? OriginMark.Length : 0);
            if (chars > MaxKeyChars)
            {
                return false;
            }

            Span<char> key = stackalloc char[chars];
            var at = System.Text.Encoding.ASCII.GetChars(head.Target, key);
            key[at++] = '\n';
            at += System.Text.Encoding.ASCII.GetChars(head.Host, key[at..]);
            key[at++] = '\n';
            at += System.Text.Encoding.ASCII.GetChars(head.AcceptEncoding, key[at..]);
            if (head.HasOrigin)
            {
                OriginMark.CopyTo(key[at..]);
            }

            return answers.TryAnswer(key, out answer);
        }

        private async ValueTask<bool> ReplayAsync(ReplayAnswer answer, long started)
        {
            var flushed = new FlushResult(isCanceled: false, isCompleted: true);
            try
            {
                var (direct, sendfile) = Write(answer);
                var flush = output.FlushAsync();
                flushed = flush.IsCompletedSuccessfully ? flush.Result : await WithinRateAsync(flush.AsTask(), answer.Length).ConfigureAwait(false);
                if (!flushed.IsCompleted && !flushed.IsCanceled)
                {
                    Metrics?.Replayed();
                    if (direct)
                    {
                        Metrics?.DirectBody(answer.Length, sendfile);
                    }
                }
            }
            finally
            {
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    // Not sent (the output was completed under it, or the send failed): the socket goes before the body is
                    // given back, so nothing can send it from a buffer that is lent again.
                    connection.Abort();
                    fed.End();
                }

                answers.Answered(answer, !flushed.IsCompleted && !flushed.IsCanceled, System.Diagnostics.Stopwatch.GetElapsedTime(started), (connection.RemoteEndPoint as IPEndPoint)?.Address);
            }

            return !flushed.IsCompleted && !flushed.IsCanceled;
        }

        // As Kestrel's minimum response rate allows an answer (a grace of 5 s, then the body at that rate; no bound without
        // a rate): a client that does not take it in that time has its connection cut.
        private async Task<FlushResult> WithinRateAsync(Task<FlushResult> send, int length)
        {
            if (MinBytesPerSecond <= 0)
            {
                return await send.ConfigureAwait(false);
            }

            try
            {
                return await send.WaitAsync(TimeSpan.FromSeconds(Math.Min(5 + (length / MinBytesPerSecond), MaxSendSeconds))).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                connection.Abort();
                return await send.ConfigureAwait(false);
            }
        }

        // The head with the current Date, then the body: by reference or from its file where it is large, else copied.
        private (bool Direct, bool Sendfile) Write(ReplayAnswer answer)
        {
            var date = DateLine.Current();
            var size = answer.Head.Length + date.Length + 2;
            var span = output.GetSpan(size);
            answer.Head.CopyTo(span);
            date.CopyTo(span[answer.Head.Length..]);
            "\r\n"u8.CopyTo(span[(size - 2)..]);
            output.Advance(size);
            var length = answer.Length;
            var sendfile = answer.File is { } file && output.TryQueueFile(file, 0, length);
            if (answer.File is not null && !sendfile)
            {
                throw new InvalidOperationException("a spooled answer could not be queued");
            }

            var direct = sendfile || (length >= DirectSend.MinimumBodyBytes && output.TryQueueBody(answer.Body));
            if (!direct)
            {
                for (var body = answer.Body.Span; !body.IsEmpty;)
                {
                    var target = output.GetSpan(Math.Min(body.Length, 64 * 1024));
                    var n = Math.Min(target.Length, body.Length);
                    body[..n].CopyTo(target);
                    output.Advance(n);
                    body = body[n..];
                }

                return (false, false);
            }

            // The output counts the queued body's bytes as they are "written" into its scratch space.
            for (var left = length; left > 0;)
            {
                var n = Math.Min(left, output.GetSpan().Length);
                output.Advance(n);
                left -= n;
            }

            return (true, sendfile);
        }
    }

    /// <summary>"Date: ...\r\n" as Kestrel writes it, made once a second.</summary>
    private static class DateLine
    {
        private static Stamp _current = new(-1, []);

        public static byte[] Current()
        {
            var now = DateTime.UtcNow;
            var second = now.Ticks / TimeSpan.TicksPerSecond;
            var current = Volatile.Read(ref _current);
            if (current.Second != second)
            {
                current = new Stamp(second, System.Text.Encoding.ASCII.GetBytes("Date: " + now.ToString("r", CultureInfo.InvariantCulture) + "\r\n"));
                Volatile.Write(ref _current, current);
            }

            return current.Line;
        }

        private sealed record Stamp(long Second, byte[] Line);
    }
}
