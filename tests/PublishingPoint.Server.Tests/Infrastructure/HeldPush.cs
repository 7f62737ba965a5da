using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>
/// A live push over a raw socket: a chunked POST whose body is sent piece by piece and kept open, so the point
/// stays live for as long as the test needs. Disposing ends the body cleanly (the final empty chunk).
/// </summary>
public sealed class HeldPush : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;

    private HeldPush(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public static async Task<HeldPush> StartAsync(Uri server, string pathAndQuery, string? extraHeaders = null)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, server.Port);
        var push = new HeldPush(client);
        var head = $"POST {pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n{extraHeaders}\r\n";
        await push._stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        return push;
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }

        await _stream.WriteAsync(Encoding.ASCII.GetBytes($"{bytes.Length:x}\r\n"));
        await _stream.WriteAsync(bytes);
        await _stream.WriteAsync("\r\n"u8.ToArray());
        await _stream.FlushAsync();
    }

    /// <summary>Ends the body and returns the status code of the answer (0 when the connection closed first).</summary>
    public async Task<int> FinishAsync(TimeSpan? timeout = null)
    {
        try
        {
            await _stream.WriteAsync("0\r\n\r\n"u8.ToArray());
        }
        catch (IOException)
        {
            // the server already answered and closed
        }

        return await ReadStatusAsync(timeout ?? TimeSpan.FromSeconds(20));
    }

    /// <summary>The status code of the answer once the server sends one (0 when the connection closed without one).</summary>
    public async Task<int> ReadStatusAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var buffer = new byte[4096];
        var text = new StringBuilder();
        try
        {
            int read;
            while ((read = await _stream.ReadAsync(buffer, cancel.Token)) > 0)
            {
                text.Append(Encoding.ASCII.GetString(buffer, 0, read));
                if (text.Length >= 12)
                {
                    break;
                }
            }
        }
        catch (IOException)
        {
            // reset: no answer
        }

        return text.Length >= 12 && int.TryParse(text.ToString().AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture, out var status) ? status : 0;
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
