using PublishingPoint.Benchmarks.Live;

namespace PublishingPoint.Benchmarks.Age;

/// <summary>
/// One encoder's POST body: the recording's header, its first <c>history</c> fragments as fast as the server takes them,
/// then the next ones at <c>rate</c> a second until <see cref="Finish"/> (or the recording's end). Read by HttpClient,
/// which sends it chunked.
/// </summary>
internal sealed class PacedBody(LiveRecording recording, int history, double rate) : Stream
{
    private volatile bool _finished;
    private int _next = -1;
    private int _offset;
    private DateTime _liveStart;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var current = Current();
        if (current is null || (_finished && _offset == 0))
        {
            return 0;
        }

        if (_offset == 0 && _next >= history)
        {
            if (_next == history)
            {
                _liveStart = DateTime.UtcNow;
            }

            var due = _liveStart + TimeSpan.FromSeconds((_next - history) / rate);
            if (due > DateTime.UtcNow)
            {
                await Task.Delay(due - DateTime.UtcNow, cancellationToken);
            }
        }

        var count = Math.Min(buffer.Length, current.Length - _offset);
        current.AsMemory(_offset, count).CopyTo(buffer);
        _offset += count;
        if (_offset == current.Length)
        {
            _next++;
            _offset = 0;
        }

        return count;
    }

    /// <summary>Ends the body after the fragment being sent.</summary>
    public void Finish() => _finished = true;

    private byte[]? Current() =>
        _next < 0 ? recording.Header : _next < recording.Fragments.Count ? recording.Fragments[_next].Bytes : null;

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
