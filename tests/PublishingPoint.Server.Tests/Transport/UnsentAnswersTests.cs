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
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
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
            await WaitUntilAsync(() => unsent.Bytes > AnswerBytes / 2, "the stalled answer is not counted");
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

    // Kestrel's way: bytes written into the output's chunks, then one flush.
    private static ValueTask<System.IO.Pipelines.FlushResult> WriteAsync(DirectSocketOutput output)
    {
        for (var left = AnswerBytes; left > 0;)
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

    private static async Task WaitUntilAsync(Func<bool> condition, string failure)
    {
        var deadline = DateTime.UtcNow + Soon;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(10);
        }
    }
}
