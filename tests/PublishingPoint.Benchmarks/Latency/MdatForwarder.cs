using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PublishingPoint.Benchmarks.Latency;

/// <summary>The moment the last byte of an mdat was handed to the server's socket, by track, in stream order.</summary>
internal readonly record struct MdatEnd(uint TrackId, int Index, long Timestamp);

/// <summary>
/// A TCP forwarder between the encoder and the server that reads the ingest as it passes: the HTTP request
/// head, the chunked transfer coding, and the top-level MP4 boxes (the track of each moof from its tfhd). When an
/// mdat's last byte has been written to the server's socket it records a <see cref="Stopwatch"/> timestamp: the
/// moment the fragment is complete at the server, as far as the encoder's side can know.
/// </summary>
internal sealed class MdatForwarder : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly List<MdatEnd> _ends = [];
    private readonly Dictionary<uint, int> _counts = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accept;

    public MdatForwarder(IPEndPoint target)
    {
        _target = target;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accept = Task.Run(AcceptAsync);
    }

    public int Port { get; }

    public IReadOnlyList<MdatEnd> Ends
    {
        get
        {
            lock (_ends)
            {
                return [.. _ends];
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accept;
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }

        await Task.WhenAll(connections);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            lock (_connections)
            {
                _connections.Add(Task.Run(() => ForwardAsync(client)));
            }
        }
    }

    private async Task ForwardAsync(TcpClient client)
    {
        using (client)
        using (var server = new TcpClient { NoDelay = true })
        {
            client.NoDelay = true;
            try
            {
                await server.ConnectAsync(_target, _stop.Token);
                var fromEncoder = client.GetStream();
                var toServer = server.GetStream();
                var back = toServer.CopyToAsync(fromEncoder, _stop.Token);
                var parser = new IngestParser();
                var buffer = new byte[64 * 1024];
                var completed = new List<(int End, uint TrackId)>();
                int read;
                while ((read = await fromEncoder.ReadAsync(buffer, _stop.Token)) > 0)
                {
                    completed.Clear();
                    parser.Feed(buffer.AsSpan(0, read), completed);
                    var at = 0;
                    foreach (var (end, track) in completed)
                    {
                        await toServer.WriteAsync(buffer.AsMemory(at, end - at), _stop.Token);
                        Record(track, Stopwatch.GetTimestamp());
                        at = end;
                    }

                    await toServer.WriteAsync(buffer.AsMemory(at, read - at), _stop.Token);
                }

                server.Client.Shutdown(SocketShutdown.Send);
                await back;
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
            {
                // the encoder or the server closed; the run is over
            }
        }
    }

    private void Record(uint track, long timestamp)
    {
        lock (_ends)
        {
            _counts.TryGetValue(track, out var index);
            _counts[track] = index + 1;
            _ends.Add(new MdatEnd(track, index, timestamp));
        }
    }

    /// <summary>Request head, then chunked (or plain) body, then top-level boxes; reports where each mdat ends in a fed buffer.</summary>
    private sealed class IngestParser
    {
        private readonly StringBuilder _line = new();
        private readonly byte[] _boxHeader = new byte[16];
        private readonly List<byte> _moof = [];
        private Stage _stage = Stage.Head;
        private bool _chunked;
        private long _chunkLeft;
        private int _headerHave;
        private long _boxLeft = -1;
        private string _boxType = "";
        private uint _track;

        private enum Stage
        {
            Head,
            ChunkSize,
            ChunkData,
            ChunkEnd,
            Plain,
            Done,
        }

        public void Feed(ReadOnlySpan<byte> data, List<(int End, uint TrackId)> completed)
        {
            var at = 0;
            while (at < data.Length)
            {
                switch (_stage)
                {
                    case Stage.Head:
                    case Stage.ChunkSize:
                    case Stage.ChunkEnd:
                        var b = data[at++];
                        if (b != '\n')
                        {
                            if (b != '\r')
                            {
                                _line.Append((char)b);
                            }

                            break;
                        }

                        var line = _line.ToString();
                        _line.Clear();
                        if (_stage == Stage.Head)
                        {
                            if (line.Length == 0)
                            {
                                _stage = _chunked ? Stage.ChunkSize : Stage.Plain;
                            }
                            else if (line.StartsWith("transfer-encoding:", StringComparison.OrdinalIgnoreCase) && line.Contains("chunked", StringComparison.OrdinalIgnoreCase))
                            {
                                _chunked = true;
                            }
                        }
                        else if (_stage == Stage.ChunkEnd)
                        {
                            _stage = Stage.ChunkSize;
                        }
                        else if (line.Length > 0)
                        {
                            var semicolon = line.IndexOf(';', StringComparison.Ordinal);
                            _chunkLeft = Convert.ToInt64(semicolon < 0 ? line : line[..semicolon], 16);
                            _stage = _chunkLeft == 0 ? Stage.Done : Stage.ChunkData;
                        }

                        break;
                    case Stage.ChunkData:
                        var n = (int)Math.Min(_chunkLeft, data.Length - at);
                        Boxes(data.Slice(at, n), at, completed);
                        at += n;
                        _chunkLeft -= n;
                        if (_chunkLeft == 0)
                        {
                            _stage = Stage.ChunkEnd;
                        }

                        break;
                    case Stage.Plain:
                        Boxes(data[at..], at, completed);
                        at = data.Length;
                        break;
                    default:
                        at = data.Length;
                        break;
                }
            }
        }

        private void Boxes(ReadOnlySpan<byte> data, int offset, List<(int End, uint TrackId)> completed)
        {
            var at = 0;
            while (at < data.Length)
            {
                if (_boxLeft < 0)
                {
                    // the box header: 8 bytes, 16 with a 64-bit size
                    _boxHeader[_headerHave++] = data[at++];
                    if (_headerHave < 8)
                    {
                        continue;
                    }

                    var size = (long)BinaryPrimitives.ReadUInt32BigEndian(_boxHeader);
                    if (size == 1 && _headerHave < 16)
                    {
                        continue;
                    }

                    var headerLength = _headerHave;
                    if (size == 1)
                    {
                        size = (long)BinaryPrimitives.ReadUInt64BigEndian(_boxHeader.AsSpan(8));
                    }

                    _boxType = Encoding.ASCII.GetString(_boxHeader, 4, 4);
                    _boxLeft = size == 0 ? long.MaxValue : size - headerLength;
                    _headerHave = 0;
                    _moof.Clear();
                }
                else
                {
                    var n = (int)Math.Min(_boxLeft, data.Length - at);
                    if (_boxType == "moof")
                    {
                        _moof.AddRange(data.Slice(at, n));
                    }

                    at += n;
                    _boxLeft -= n;
                }

                if (_boxLeft == 0)
                {
                    if (_boxType == "moof")
                    {
                        _track = TrackOf(_moof);
                    }
                    else if (_boxType == "mdat")
                    {
                        completed.Add((offset + at, _track));
                    }

                    _boxLeft = -1;
                }
            }
        }

        /// <summary>track_ID of the moof's first tfhd (size, 'tfhd', version+flags, track_ID).</summary>
        private static uint TrackOf(List<byte> moof)
        {
            var bytes = moof.ToArray();
            var at = bytes.AsSpan().IndexOf("tfhd"u8);
            return at < 0 || at + 12 > bytes.Length ? 0 : BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at + 8));
        }
    }
}
