using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using PublishingPoint.Server.Tests.Infrastructure;
using PublishingPoint.Server.Transport;

namespace PublishingPoint.Server.Tests.Transport;

/// <summary>
/// Answers waiting in memory for clients that do not read them are bounded server-wide: past the bound the one that has
/// waited longest is cut, and a client that reads is served to the end.
/// </summary>
public sealed class UnsentAnswersTests
{
    private const int AnswerBytes = 2 * 1024 * 1024;
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task PastTheBound_TheAnswerWaitingLongest_IsCut_AndAReadingClientGetsItsWholeAnswer()
    {
        var unsent = new UnsentAnswers(3L * 1024 * 1024, NullLogger<UnsentAnswers>.Instance);
        using var listener = Listen();
        var (stalledClient, stalledServer) = await ConnectAsync(listener);
        var (readerClient, readerServer) = await ConnectAsync(listener);
        using (stalledClient)
        using (stalledServer)
        using (readerClient)
        using (readerServer)
        {
            // A player that stops reading: its 2 MB answer waits in memory (the kernel's buffers are a few KB here).
            var stalled = new DirectSocketOutput(stalledServer) { Unsent = unsent };
            var stalledFlush = WriteAsync(stalled).AsTask();
            await Eventually.WaitUntilAsync(() => unsent.Bytes > AnswerBytes / 2, "the stalled answer is not counted");
            Assert.False(stalledFlush.IsCompleted);

            // A second answer takes the total past 3 MB: the first, which has waited longest, is cut; the second is sent
            // to its client, which reads it all.
            var reader = new DirectSocketOutput(readerServer) { Unsent = unsent };
            var readerFlush = WriteAsync(reader).AsTask();
            var cut = await stalledFlush.WaitAsync(Soon);
            Assert.True(cut.IsCompleted, "the stalled answer was not cut");
            Assert.Equal(1, unsent.Cut);

            var received = await ReadAsync(readerClient, AnswerBytes);
            Assert.Equal(AnswerBytes, received);
            var sent = await readerFlush.WaitAsync(Soon);
            Assert.False(sent.IsCompleted, "the reading client's connection was cut");
            Assert.Equal(0, unsent.Bytes);
            Assert.Equal(1, unsent.Cut);
            await stalled.DrainAsync();
            await reader.DrainAsync();
        }
    }

    [Fact]
    public async Task ClientsWaitingOnOneSharedAnswer_CountItOnce_SoTheyCannotGetOthersCut()
    {
        // Three clients that stop reading the same cached 2 MB answer (sent by reference) hold 2 MB, not 6: under a
        // 3 MB bound nobody is cut.
        var unsent = new UnsentAnswers(3L * 1024 * 1024, NullLogger<UnsentAnswers>.Instance);
        using var listener = Listen();
        var shared = new byte[AnswerBytes];
        var connections = new List<(Socket Client, Socket Server)>();
        var flushes = new List<Task<System.IO.Pipelines.FlushResult>>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                connections.Add(await ConnectAsync(listener));
                var output = new DirectSocketOutput(connections[^1].Server) { Unsent = unsent };
                Assert.True(output.TryQueueBody(shared));
                flushes.Add(WriteAsync(output, AnswerBytes).AsTask());
            }

            await Eventually.WaitUntilAsync(() => unsent.Bytes >= AnswerBytes, "the shared answer is not counted");
            Assert.InRange(unsent.Bytes, AnswerBytes, AnswerBytes + (3 * 64 * 1024));
            Assert.Equal(0, unsent.Cut);
            Assert.DoesNotContain(flushes, f => f.IsCompleted);

            // A fourth client's own 2 MB passes the bound: the oldest waiting answers are cut, all three that hold the
            // shared one (its memory is free only once none of them waits on it), and the fourth goes on.
            connections.Add(await ConnectAsync(listener));
            var own = new DirectSocketOutput(connections[^1].Server) { Unsent = unsent };
            flushes.Add(WriteAsync(own).AsTask());
            foreach (var flush in flushes.Take(3))
            {
                Assert.True((await flush.WaitAsync(Soon)).IsCompleted, "a holder of the shared answer was not cut");
            }

            Assert.Equal(3, unsent.Cut);
            Assert.False(flushes[3].IsCompleted, "the newest answer was cut");
            Assert.InRange(unsent.Bytes, AnswerBytes, AnswerBytes + (64 * 1024));
        }
        finally
        {
            connections.ForEach(c =>
            {
                c.Client.Dispose();
                c.Server.Dispose();
            });
        }

        await Task.WhenAll(flushes.Select(f => f.WaitAsync(Soon)));
        Assert.Equal(0, unsent.Bytes);
    }

    [Fact]
    public async Task TheServersBound_IsAnEighthOfTheMemory_OrTheConfiguredOne_AndIsExposedAsMetrics()
    {
        await using (var server = await RunningServer.StartAsync())
        {
            var unsent = server.Services.GetRequiredService<UnsentAnswers>();
            Assert.Equal(Math.Max(256L * 1024 * 1024, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 8), unsent.MaxBytes);
            var metrics = await server.Http.GetStringAsync("metrics");
            Assert.Matches(@"publishingpoint_transport_answers_unsent(_bytes)? 0", metrics);
            Assert.Matches(@"publishingpoint_transport_answers_cut(_total)? 0", metrics);
        }

        await using var configured = await RunningServer.StartAsync(null, "--PublishingPoint:MaxUnsentAnswerBytes=5000000");
        Assert.Equal(5_000_000, configured.Services.GetRequiredService<UnsentAnswers>().MaxBytes);
    }

    private static Socket Listen()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        return listener;
    }

    private static async Task<(Socket Client, Socket Server)> ConnectAsync(Socket listener)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        var accept = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await accept;
        server.SendBufferSize = 16 * 1024;
        server.Blocking = false;
        return (client, server);
    }

    // Kestrel's way: bytes written into the output's chunks (or, for a body queued by reference, placeholders for its
    // length), then one flush.
    private static ValueTask<System.IO.Pipelines.FlushResult> WriteAsync(DirectSocketOutput output, int bytes = AnswerBytes)
    {
        for (var left = bytes; left > 0;)
        {
            var span = output.GetSpan(Math.Min(left, 64 * 1024));
            var n = Math.Min(left, span.Length);
            span[..n].Fill(0x47);
            output.Advance(n);
            left -= n;
        }

        return output.FlushAsync();
    }

    private static async Task<int> ReadAsync(Socket client, int count)
    {
        var buffer = new byte[64 * 1024];
        var total = 0;
        using var deadline = new CancellationTokenSource(Soon);
        while (total < count)
        {
            var read = await client.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }
}
