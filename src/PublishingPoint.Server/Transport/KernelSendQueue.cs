using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace PublishingPoint.Server.Transport;

/// <summary>
/// Bounds what the kernel holds unsent for one connection (Linux's TCP_NOTSENT_LOWAT). Without it the kernel takes a
/// whole answer into the socket's send buffer, which it grows up to <c>net.ipv4.tcp_wmem</c>'s maximum (4 MB), for a
/// client that stops reading as for one that reads: 1,000 such players from one address held 1.4 GB of the kernel's TCP
/// memory, which all sockets share (<c>net.ipv4.tcp_mem</c>, 2.2 GB on a 24 GB machine), so a few addresses could
/// starve the encoders' sockets. With the bound the rest of an answer waits in the server, where
/// <c>MaxUnsentAnswerBytes</c> counts it and cuts the longest-waiting clients, and a stalled player is seen as one by
/// <c>MinResponseBytesPerSecond</c>. A client that reads is not slowed: the kernel asks for more as soon as less than
/// the bound is left to send. The bound is lowered so that the server's most connections together hold at most half of
/// the kernel's TCP memory: otherwise stalled players from enough addresses could still fill it.
/// </summary>
internal static class KernelSendQueue
{
    /// <summary>The least bound a connection gets however many connections share the kernel's TCP memory.</summary>
    public const int MinimumBytes = 16 * 1024;

    private const int IpProtocolTcp = 6;
    private const int TcpNotSentLowWatermark = 25;

    /// <summary>
    /// The bound for each connection: at most <paramref name="cap"/>, lowered so that the server's most connections
    /// (<paramref name="connections"/>) together hold at most half of the kernel's TCP memory
    /// (<paramref name="kernelTcpBytes"/>), and never below <see cref="MinimumBytes"/>. 0 stays 0 (off).
    /// </summary>
    public static int PerConnection(int cap, long? connections, long? kernelTcpBytes)
    {
        if (cap <= 0 || connections is not > 0 || kernelTcpBytes is not > 0)
        {
            return cap;
        }

        return (int)Math.Clamp(kernelTcpBytes.Value / 2 / connections.Value, Math.Min(MinimumBytes, cap), cap);
    }

    /// <summary>net.ipv4.tcp_mem's limit (its third value, in pages) in bytes; null where it cannot be read.</summary>
    public static long? KernelTcpMemoryBytes()
    {
        try
        {
            var fields = File.ReadAllText("/proc/sys/net/ipv4/tcp_mem").Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return fields.Length == 3 && long.TryParse(fields[2], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pages)
                ? pages * Environment.SystemPageSize
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Kestrel connection middleware: sets the bound on every TCP connection (on Linux; elsewhere nothing).</summary>
    public static Func<ConnectionDelegate, ConnectionDelegate> Connections(int bytes) => next => connection =>
    {
        if (bytes > 0 && OperatingSystem.IsLinux() && connection.Features.Get<IConnectionSocketFeature>()?.Socket is { ProtocolType: ProtocolType.Tcp } socket)
        {
            Limit(socket, bytes);
        }

        return next(connection);
    };

    /// <summary>True when the kernel took the bound (a kernel before 3.12 does not know the option).</summary>
    public static bool Limit(Socket socket, int bytes)
    {
        ArgumentNullException.ThrowIfNull(socket);
        Span<byte> value = stackalloc byte[sizeof(int)];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(value, bytes);
        try
        {
            socket.SetRawSocketOption(IpProtocolTcp, TcpNotSentLowWatermark, value);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
